"""Analytics overview: every sent campaign compared, trends, audience growth, consent changes."""

from __future__ import annotations

from urllib.parse import urlencode

import plotly.graph_objects as go
import reflex as rx

from marketing_ui.api.analytics_export import export_path
from marketing_ui.components import charts
from marketing_ui.core import analytics
from marketing_ui.core.analytics import lift, revenue
from marketing_ui.core.app_settings import business_identity
from marketing_ui.core.automations import config as automations
from marketing_ui.core.automations import reports as automation_reports
from marketing_ui.core.config import get_settings
from marketing_ui.core.db import session_scope
from marketing_ui.core.time_display import format_datetime
from marketing_ui.state.auth import AuthState


def export_links(tables: tuple[str, ...], query: dict[str, str]) -> dict[str, str]:
    """Absolute CSV URLs (the endpoints live on the backend) carrying the current filters."""
    base = get_settings().api_base_url.rstrip("/")
    qs = urlencode({k: v for k, v in query.items() if v})
    return {t: f"{base}{export_path(t)}" + (f"?{qs}" if qs else "") for t in tables}


def _lift_cell(measured: lift.Lift | None) -> str:
    """The overview's lift column: visit-rate lift, or why there is none to show."""
    if measured is None:
        return "–"
    if lift.TOO_SMALL in measured.summary.lower():
        return lift.TOO_SMALL
    shown = measured.shown("visit_rate")
    return f"{shown['difference']} ({shown['interval']})"


class AnalyticsState(AuthState):
    since: str = ""
    until: str = ""
    channel: str = "all"
    rows: list[dict[str, str]] = []
    rates_fig: go.Figure = go.Figure()
    trend_fig: go.Figure = go.Figure()
    audience_fig: go.Figure = go.Figure()
    redemption_fig: go.Figure = go.Figure()
    revenue_fig: go.Figure = go.Figure()
    has_revenue: bool = False
    has_trend: bool = False
    has_audience: bool = False
    has_redemptions: bool = False
    exports: dict[str, str] = {}
    automation_rows: list[dict[str, str]] = []  # each automation's last 30 days
    include_machine: bool = False  # count proxy and scanner opens/clicks as people's

    @rx.event
    def load(self):
        machine = "1" if self.include_machine else ""
        filters = analytics.parse_filters(self.since, self.until, self.channel, machine)
        with session_scope() as session:
            analytics.refresh_rollups(session)
            ov = analytics.overview(
                session, filters.since, filters.until, filters.channel, filters.include_machine
            )
            zone = business_identity(session).timezone
            auto_views = automations.list_automations(session)
            auto_recent = automation_reports.recent(session, days=30)
            shown = ov.campaigns[:200]
            earned = revenue.earnings_by_campaign(
                session, [r.campaign_id for r in shown], filters.channel
            )
            lifts = lift.lifts_by_campaign(session, [r.campaign_id for r in shown])
            auto_money = {
                v.id: automation_reports.earnings(
                    session, auto_recent.get(v.id, automation_reports.Counts())
                ).shown()
                for v in auto_views
            }
        self.rows = [
            {
                "id": str(r.campaign_id),
                "name": r.name,
                "channel": r.channel,
                "sent_at": format_datetime(r.sent_at, zone),
                "sent": f"{r.funnel.sent:,}",
                "delivered": charts.pct(r.funnel.delivered_rate),
                "delivered_note": r.funnel.delivered_note,
                "opened": charts.pct(r.funnel.open_rate),
                "opened_note": r.funnel.open_note,
                "clicked": charts.pct(r.funnel.click_rate),
                "redeemed": charts.pct(r.funnel.redemption_rate),
                "unsubscribes": f"{r.funnel.unsubscribes:,}",
                "revenue": earned[r.campaign_id].shown()["revenue"],
                "return": earned[r.campaign_id].shown()["return"],
                "opens_split": "–"
                if r.funnel.open_note
                else f"{r.funnel.opened_human_unique:,} · {r.funnel.opened_machine_unique:,}",
                "lift": _lift_cell(lifts.get(r.campaign_id)),
            }
            for r in shown
        ]
        self.automation_rows = [
            {
                "kind": v.kind,
                "name": v.name,
                "state": "On" if v.enabled else "Off",
                **{
                    k: f"{getattr(c, k):,}"
                    for k in ("sent", "opened", "clicked", "redeemed", "visits")
                },
                "revenue": auto_money[v.id]["revenue"],
                "return": auto_money[v.id]["return"],
            }
            for v in auto_views
            for c in [auto_recent.get(v.id, automation_reports.Counts())]
        ]
        self.rates_fig = charts.rates_figure(ov.campaigns)
        self.trend_fig = charts.trend_figure(ov.trend, show_machine=filters.include_machine)
        self.audience_fig = charts.audience_figure(ov.audience, ov.consent)
        self.redemption_fig = charts.redemption_figure(ov.campaigns)
        money_rows = [(r.name, earned[r.campaign_id]) for r in shown][::-1]
        self.revenue_fig = charts.revenue_figure(money_rows)
        self.has_revenue = any(e.counts.revenue_minor or e.cost for _, e in money_rows)
        self.has_trend = bool(ov.trend)
        self.has_audience = bool(ov.audience or ov.consent)
        self.has_redemptions = any(r.funnel.coupons_issued for r in ov.campaigns)
        query = {"since": self.since, "until": self.until, "channel": self.channel,
                 "machine": machine}  # fmt: skip
        self.exports = export_links(analytics.OVERVIEW_TABLES, query)

    @rx.event
    def set_since(self, value: str):
        self.since = value
        return AnalyticsState.load

    @rx.event
    def set_until(self, value: str):
        self.until = value
        return AnalyticsState.load

    @rx.event
    def set_channel(self, value: str):
        self.channel = value if value in analytics.CHANNEL_CHOICES else "all"
        return AnalyticsState.load

    @rx.event
    def clear_filters(self):
        self.since, self.until, self.channel = "", "", "all"
        self.include_machine = False
        return AnalyticsState.load

    @rx.event
    def set_include_machine(self, value: bool):
        self.include_machine = bool(value)
        return AnalyticsState.load
