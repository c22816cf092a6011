"""Plotly figures for the analytics pages and the card that shows one with its CSV export link."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime, timedelta

import plotly.graph_objects as go
import reflex as rx
from plotly.subplots import make_subplots

from marketing_ui.components.theme import MUTED
from marketing_ui.core.analytics.ab import AbReport
from marketing_ui.core.analytics.lift import METRIC_LABELS, METRICS, Z95, Lift
from marketing_ui.core.analytics.reports import (
    AudiencePoint,
    CampaignFunnelRow,
    ConsentPoint,
    DayPoint,
    Funnel,
    HourPoint,
)
from marketing_ui.core.analytics.revenue import Earnings
from marketing_ui.core.automations.reports import WeekRow
from marketing_ui.core.money import currency as money_currency

DAY_BAR_MS = 0.7 * 86_400_000  # bar width on a date axis (one lone bar would be 1 ms wide)
COLORS = {
    "email": "#3e63dd",
    "sms": "#12a594",
    "opens": "#3e63dd",
    "clicks": "#e54666",
    "redemptions": "#ffa01c",
    "sent": "#8e8c99",
    "visits": "#30a46c",
    "messaged": "#3e63dd",
    "held_out": "#8e8c99",
    "revenue": "#30a46c",
    "cost": "#e54666",
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


def hourly_figure(points: Sequence[HourPoint], show_machine: bool = False) -> go.Figure:
    """People's opens, clicks and redemptions per hour; machine ones dashed beside them when
    `show_machine` (the points then count machine ones in, and the solid lines leave them out)."""
    hours = [p.hours_since_send for p in points]
    fig = go.Figure()
    for name, values in (
        ("opens", _people(points, "opens", show_machine)),
        ("clicks", _people(points, "clicks", show_machine)),
        ("redemptions", [p.redemptions for p in points]),
    ):
        fig.add_scatter(
            x=hours,
            y=values,
            mode=_line_mode(hours),
            name=name.title(),
            line={"color": COLORS[name], "width": 2},
        )
    if show_machine:
        _machine_lines(fig, hours, points)
    # Whole hours from the send on (a short series otherwise gets -1 and half-hour ticks), with
    # a margin so a point in the first hour is not cut in half by the edge; whole counts.
    short = not hours or max(hours) < 12
    if short:
        fig.update_xaxes(range=[-0.4, max([*hours, 1]) + 0.4], tick0=0, dtick=1)
    fig.update_xaxes(title_text="Hours since send", rangemode="nonnegative")
    top = max((max(t.y) for t in fig.data if t.y), default=0)
    if top <= 5:
        fig.update_yaxes(tick0=0, dtick=1, range=[-0.1, max(top, 1) * 1.15])
    return _layout(fig)


def _line_mode(x: Sequence[object]) -> str:
    """A line of one or two points is invisible or a stub: show the points themselves too."""
    return "lines+markers" if len(x) < 3 else "lines"


def _people(
    points: Sequence[HourPoint] | Sequence[DayPoint], kind: str, machine_included: bool
) -> list[int]:
    """People's opens or clicks of each point, whether or not the point counts machine ones."""
    return [
        getattr(p, kind) - (getattr(p, f"machine_{kind}") if machine_included else 0)
        for p in points
    ]


def _machine_lines(
    fig: go.Figure, x: Sequence[object], points: Sequence[HourPoint] | Sequence[DayPoint]
) -> None:
    """Machine opens and clicks (proxies, scanners) as dashed lines beside the people's."""
    for name, values in (
        ("opens", [p.machine_opens for p in points]),
        ("clicks", [p.machine_clicks for p in points]),
    ):
        fig.add_scatter(
            x=x,
            y=values,
            mode=_line_mode(x),
            name=f"Machine {name}",
            line={"color": COLORS[name], "width": 1.5, "dash": "dot"},
        )


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
        # A few campaigns: each bar says its value, so a rate of 0% is seen, not an empty chart.
        text = [None if v is None else f"{v:.0f}%" for v in values] if len(names) <= 8 else None
        fig.add_bar(
            x=names,
            y=values,
            name=label,
            marker_color=color,
            text=text,
            textposition="outside",
            cliponaxis=False,
        )
    fig.update_yaxes(title_text="% of sent", range=[0, 100])
    return _layout(fig, barmode="group", bargap=0.6 if len(names) < 4 else 0.2)


def lift_figure(lift: Lift) -> go.Figure:
    """Messaged vs held out per metric: the group means with their 95% intervals as error bars."""
    scale = {"visit_rate": 100.0, "visits": 1.0, "revenue": 1 / 10 ** _exponent(lift.currency)}
    units = {"visit_rate": "%", "visits": "visits", "revenue": lift.currency}
    fig = make_subplots(
        rows=1, cols=3, subplot_titles=[f"{METRIC_LABELS[m]} ({units[m]})" for m in METRICS]
    )
    for col, metric in enumerate(METRICS, start=1):
        for group, sums in (("messaged", lift.messaged), ("held_out", lift.held_out)):
            mean, var = sums.mean(metric), sums.variance(metric)
            half = Z95 * (var / sums.customers) ** 0.5 if var is not None and sums.customers else 0
            fig.add_bar(
                x=["Messaged" if group == "messaged" else "Held out"],
                y=[None if mean is None else mean * scale[metric]],
                error_y={"type": "data", "array": [half * scale[metric]], "visible": True},
                marker_color=COLORS[group],
                name="Messaged" if group == "messaged" else "Held out",
                showlegend=col == 1,
                row=1,
                col=col,
            )
    fig.update_annotations(font_size=12)
    return _layout(fig, height=300, bargap=0.35)


def _exponent(code: str) -> int:
    return money_currency(code).exponent


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


def revenue_figure(rows: Sequence[tuple[str, Earnings]]) -> go.Figure:
    """(name, earnings) per campaign, newest last: revenue at the counter next to message cost."""
    shown = [(name, e) for name, e in rows if e.counts.revenue_minor or e.cost][-30:]
    names = [chart_text(name) for name, _ in shown]
    fig = go.Figure()
    fig.add_bar(
        x=names,
        y=[float(e.revenue) for _, e in shown],
        name="Revenue",
        marker_color=COLORS["revenue"],
        text=[f"return {e.shown()['return']}" for _, e in shown],
        textposition="outside",
        cliponaxis=False,
        hovertemplate="%{x}<br>Revenue %{y:,.2f}<br>%{text}<extra></extra>",
    )
    fig.add_bar(
        x=names,
        y=[float(e.cost) for _, e in shown],
        name="Message cost",
        marker_color=COLORS["cost"],
    )
    currency = shown[0][1].currency if shown else ""
    fig.update_yaxes(title_text=currency)
    return _layout(fig, barmode="group", bargap=0.6 if len(names) < 4 else 0.2)


def trend_figure(points: Sequence[DayPoint], show_machine: bool = False) -> go.Figure:
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
        ("opens", _people(points, "opens", show_machine)),
        ("clicks", _people(points, "clicks", show_machine)),
    ):
        fig.add_scatter(
            x=days,
            y=values,
            mode="lines+markers",
            name=name.title(),
            line={"color": COLORS[name], "width": 2},
        )
    if show_machine:
        _machine_lines(fig, days, points)
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
