"""Plotly figures for the analytics pages and the card that shows one with its CSV export link."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime, timedelta

import plotly.graph_objects as go
import reflex as rx

from marketing_ui.components.theme import MUTED
from marketing_ui.core.analytics.ab import AbReport
from marketing_ui.core.analytics.reports import (
    AudiencePoint,
    CampaignFunnelRow,
    ConsentPoint,
    DayPoint,
    Funnel,
    HourPoint,
)
from marketing_ui.core.automations.reports import WeekRow

DAY_BAR_MS = 0.7 * 86_400_000  # bar width on a date axis (one lone bar would be 1 ms wide)
COLORS = {
    "email": "#3e63dd",
    "sms": "#12a594",
    "opens": "#3e63dd",
    "clicks": "#e54666",
    "redemptions": "#ffa01c",
    "sent": "#8e8c99",
    "visits": "#30a46c",
}


def chart_text(value: str) -> str:
    """User text (campaign names) as plotly shows it: its labels read <b>, <a>, <br> as markup."""
    return html.escape(value, quote=False)


def _layout(fig: go.Figure, height: int = 320, **extra: object) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 48, "r": 16, "t": 16, "b": 40},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        legend={"orientation": "h", "y": -0.2},
        font={"size": 12},
        **extra,
    )
    fig.update_xaxes(gridcolor="#e8e8ec")
    fig.update_yaxes(gridcolor="#e8e8ec", rangemode="tozero")
    return fig


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


FUNNEL_STAGES = (
    ("Targeted", "targeted"),
    ("Sent", "sent"),
    ("Delivered", "delivered"),
    ("Opened (unique)", "opened_unique"),
    ("Clicked (unique)", "clicked_unique"),
    ("Redeemed", "redeemed"),
)


def _stage_count(f: Funnel, attr: str) -> int | None:
    """None for a stage that does not apply (SMS opens, delivery the provider never reports)."""
    if (attr == "delivered" and f.delivered_note) or (attr == "opened_unique" and f.open_note):
        return None
    return getattr(f, attr)


def funnel_figure(funnels: dict[str, Funnel]) -> go.Figure:
    """Horizontal bars per stage, one trace per channel (stacked), labelled with count and rate."""
    fig = go.Figure()
    labels = [label for label, _ in FUNNEL_STAGES][::-1]
    for channel, f in funnels.items():
        values = [_stage_count(f, attr) for _, attr in FUNNEL_STAGES][::-1]
        text = ["–" if v is None else f"{v:,}" for v in values]
        fig.add_bar(
            y=labels,
            x=values,
            orientation="h",
            name=channel.upper() if channel else "All",
            marker_color=COLORS.get(channel, "#3e63dd"),
            text=text,
            textposition="auto",
        )
    return _layout(fig, height=300, barmode="stack")


def ab_figure(report: AbReport) -> go.Figure:
    """Click and redemption rate per variant, with the 95% Wilson interval as error bars."""
    labels = [f"Variant {v.label}" for v in report.variants]
    fig = go.Figure()
    shown = [("Click rate", "click", COLORS["clicks"])]
    if any(v.redeemers for v in report.variants) or report.metric == "redemptions":
        shown.append(("Redemption rate", "redemption", COLORS["redemptions"]))
    for name, attr, color in shown:
        rates = [getattr(v, attr) for v in report.variants]
        fig.add_bar(
            x=labels,
            y=[r.rate * 100 for r in rates],
            name=name,
            marker_color=color,
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [(r.high - r.rate) * 100 for r in rates],
                "arrayminus": [(r.rate - r.low) * 100 for r in rates],
                "color": "#60646c",
                "thickness": 1.5,
                "width": 6,
            },
            hovertext=[f"{r.rate:.1%} ({r.low:.1%}–{r.high:.1%})" for r in rates],
        )
    fig.update_yaxes(title_text="% of recipients reached (95% interval)")
    return _layout(fig, barmode="group", bargap=0.35)


def hourly_figure(points: Sequence[HourPoint]) -> go.Figure:
    hours = [p.hours_since_send for p in points]
    fig = go.Figure()
    for name, values in (
        ("opens", [p.opens for p in points]),
        ("clicks", [p.clicks for p in points]),
        ("redemptions", [p.redemptions for p in points]),
    ):
        fig.add_scatter(
            x=hours,
            y=values,
            mode="lines",
            name=name.title(),
            line={"color": COLORS[name], "width": 2},
        )
    fig.update_xaxes(title_text="Hours since send")
    return _layout(fig)


def rates_figure(rows: Sequence[CampaignFunnelRow]) -> go.Figure:
    names = [chart_text(r.name) for r in rows][::-1][-30:]
    fig = go.Figure()
    for label, attr, color in (
        ("Delivered", "delivered_rate", "#8e8c99"),
        ("Opened", "open_rate", COLORS["opens"]),
        ("Clicked", "click_rate", COLORS["clicks"]),
    ):
        rates = [getattr(r.funnel, attr) for r in rows][::-1][-30:]
        values = [None if v is None else v * 100 for v in rates]  # no bar where it does not apply
        fig.add_bar(x=names, y=values, name=label, marker_color=color)
    fig.update_yaxes(title_text="% of sent", range=[0, 100])
    return _layout(fig, barmode="group", bargap=0.6 if len(names) < 4 else 0.2)


def redemption_figure(rows: Sequence[CampaignFunnelRow]) -> go.Figure:
    with_coupons = [r for r in rows if r.funnel.coupons_issued][::-1][-30:]
    fig = go.Figure()
    fig.add_bar(
        x=[chart_text(r.name) for r in with_coupons],
        y=[(r.funnel.redemption_rate or 0) * 100 for r in with_coupons],
        marker_color=COLORS["redemptions"],
        text=[f"{r.funnel.redeemed:,} / {r.funnel.coupons_issued:,}" for r in with_coupons],
        textposition="auto",
        name="Redeemed",
    )
    fig.update_yaxes(title_text="% of coupons redeemed")
    return _layout(fig, bargap=0.6 if len(with_coupons) < 4 else 0.2)


def trend_figure(points: Sequence[DayPoint]) -> go.Figure:
    """Sent as bars, opens and clicks as lines with markers (a single day still shows)."""
    days = [p.day for p in points]
    fig = go.Figure()
    fig.add_bar(
        x=days,
        width=[DAY_BAR_MS] * len(days),
        y=[p.sent for p in points],
        name="Sent",
        marker_color=COLORS["sent"],
        opacity=0.6,
    )
    for name, values in (
        ("opens", [p.opens for p in points]),
        ("clicks", [p.clicks for p in points]),
    ):
        fig.add_scatter(
            x=days,
            y=values,
            mode="lines+markers",
            name=name.title(),
            line={"color": COLORS[name], "width": 2},
        )
    _date_axis(fig, days)
    return _layout(fig)


def automation_weekly_figure(rows: Sequence[WeekRow]) -> go.Figure:
    """An automation's weeks: messages sent as bars; opens, clicks, redemptions, visits as lines."""
    weeks = [datetime.combine(r.week, datetime.min.time()) for r in rows]
    fig = go.Figure()
    fig.add_bar(
        x=weeks,
        width=[7 * DAY_BAR_MS] * len(weeks),
        y=[r.counts.sent for r in rows],
        name="Sent",
        marker_color=COLORS["sent"],
        opacity=0.6,
    )
    for name, color, attr in (
        ("Opened", "opens", "opened"),
        ("Clicked", "clicks", "clicked"),
        ("Redeemed", "redemptions", "redeemed"),
        ("Visits after", "visits", "visits"),
    ):
        fig.add_scatter(
            x=weeks,
            y=[getattr(r.counts, attr) for r in rows],
            mode="lines+markers",
            name=name,
            line={"color": COLORS[color], "width": 2},
        )
    fig.update_xaxes(type="date", tickformat="%b %d")
    return _layout(fig)


def _date_axis(fig: go.Figure, days: Sequence[datetime]) -> None:
    """Daily ticks; a short series gets a day of margin each side instead of millisecond ticks."""
    fig.update_xaxes(type="date", tickformat="%b %d")
    if days and len(days) < 7:
        fig.update_xaxes(
            range=[days[0] - timedelta(days=1), days[-1] + timedelta(days=1)], dtick=86_400_000
        )


def audience_figure(
    audience: Sequence[AudiencePoint], consent: Sequence[ConsentPoint]
) -> go.Figure:
    """Cumulative customers (line, left axis) and consent granted/withdrawn per day (bars)."""
    fig = go.Figure()
    fig.add_scatter(
        x=[p.day for p in audience],
        y=[p.total_customers for p in audience],
        mode="lines",
        name="Customers",
        line={"color": "#8e8c99", "width": 2},
    )
    for channel in ("email", "sms"):
        pts = [p for p in consent if p.channel == channel]
        if not pts:
            continue
        days = [p.day for p in pts]
        fig.add_bar(
            x=days,
            width=[DAY_BAR_MS] * len(days),
            y=[p.granted for p in pts],
            name=f"{channel.upper()} opt-ins",
            marker_color=COLORS[channel],
            yaxis="y2",
        )
        fig.add_bar(
            x=days,
            width=[DAY_BAR_MS] * len(days),
            y=[-p.withdrawn for p in pts],
            name=f"{channel.upper()} opt-outs",
            marker_color=COLORS[channel],
            opacity=0.45,
            yaxis="y2",
        )
    _date_axis(fig, sorted({p.day for p in audience} | {p.day for p in consent}))
    return _layout(
        fig,
        barmode="relative",
        yaxis={"title": {"text": "Customers"}},
        yaxis2={
            "title": {"text": "Consent changes"},
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
        },
    )


def chart_card(
    title: str,
    figure: rx.Var,
    export_href: rx.Var | str,
    has_data: rx.Var,
    empty_text: str,
    chart_id: str,
) -> rx.Component:
    """A titled chart with its CSV export, or an explanation of what will appear here."""
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(title, size="4"),
                rx.spacer(),
                rx.link(
                    rx.button(rx.icon("download", size=14), "CSV", size="1", variant="soft"),
                    href=export_href,
                    is_external=True,
                    id=f"{chart_id}-csv",
                ),
                width="100%",
                align="center",
            ),
            rx.cond(
                has_data,
                rx.box(rx.plotly.basic(data=figure, width="100%"), width="100%", id=chart_id),
                rx.center(
                    rx.text(empty_text, size="2", color=MUTED, align="center"),
                    height="160px",
                    width="100%",
                    id=f"{chart_id}-empty",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def number_card(label: str, value: rx.Var, detail: rx.Var | str, card_id: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="2", color=MUTED),
            rx.heading(value, size="6", id=card_id),
            rx.text(detail, size="1", color=rx.color("gray", 10)),
            spacing="1",
        ),
        min_width="150px",
        flex="1",
    )
