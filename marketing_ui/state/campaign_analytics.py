"""One campaign's analytics: funnel, failures, hourly series, top links, channels side by side."""

from __future__ import annotations

import asyncio

import plotly.graph_objects as go
import reflex as rx

from marketing_ui.components import charts
from marketing_ui.core import analytics, statuses
from marketing_ui.core.analytics import ab, lift, revenue
from marketing_ui.core.analytics.stats import Interval
from marketing_ui.core.app_settings import business_identity
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import AbPhase, Campaign
from marketing_ui.core.sending import SendError, ab_decision
from marketing_ui.core.time_display import format_datetime
from marketing_ui.state.access import still_allowed
from marketing_ui.state.analytics import export_links
from marketing_ui.state.auth import AuthState
from marketing_ui.state.route import route_id

LIVE_POLL_S = 2.0  # while a campaign is still sending, numbers refresh this often


def _funnel_dict(f: analytics.Funnel) -> dict[str, str]:
    """Numbers as shown; one that does not apply is "–" and its `*_note` says why."""
    no_opens = bool(f.open_note)
    return {
        "channel": (f.channel or "all").upper(),
        "targeted": f"{f.targeted:,}",
        "sent": f"{f.sent:,}",
        "delivered": "–" if f.delivered_note else f"{f.delivered:,}",
        "delivered_rate": charts.pct(f.delivered_rate),
        "delivered_note": f.delivered_note,
        "opened_unique": "–" if no_opens else f"{f.opened_unique:,}",
        "opened_total": "–" if no_opens else f"{f.opened_total:,}",
        "open_rate": charts.pct(f.open_rate),
        "open_note": f.open_note,
        "clicked_unique": f"{f.clicked_unique:,}",
        "clicked_total": f"{f.clicked_total:,}",
        "click_rate": charts.pct(f.click_rate),
        "redeemed": f"{f.redeemed:,}",
        "coupons_issued": f"{f.coupons_issued:,}",
        "redemption_rate": charts.pct(f.redemption_rate),
        "bounced": f"{f.bounced:,}",
        "bounce_rate": charts.pct(f.hard_bounce_rate),
        "complaints": f"{f.complaints:,}",
        "complaint_rate": charts.pct(f.complaint_rate),
        "unsubscribes": f"{f.unsubscribes:,}",
        "failed": f"{f.failed:,}",
        "skipped": f"{f.skipped:,}",
        "held_back": f"{f.held_back:,}",
        "held_out": f"{f.held_out:,}",
        "queued": f"{f.queued:,}",
    }


def _ab_row(v: ab.VariantResult) -> dict[str, str]:
    def rate(i: Interval) -> str:
        return f"{charts.pct(i.rate)} ({charts.pct(i.low)}–{charts.pct(i.high)})"

    return {
        "label": v.label,
        "delivered": f"{v.delivered:,}",
        "clickers": f"{v.clickers:,}",
        "click_rate": rate(v.click),
        "redeemers": f"{v.redeemers:,}",
        "redemption_rate": rate(v.redemption),
        "verdict": v.verdict,
        "best": "yes" if v.is_best else "",
        "winner": "yes" if v.is_winner else "",
    }


def _ab_info(report: ab.AbReport, decide_at: str) -> dict[str, str]:
    metric = "unique clicks" if report.metric == "clicks" else "redemptions"
    if report.phase == AbPhase.TESTING:
        phase = (
            f"Testing on {report.percent}% of the audience; the winner is picked at {decide_at}."
        )
    elif report.winner_label:
        phase = f"Decided: variant {report.winner_label} went to the rest of the audience."
    else:
        phase = ""
    return {"phase": phase, "metric": metric, "testing": "yes" if report.phase == "testing" else ""}


# Human engagement: people's opens and clicks, the machine ones shown apart -----------------


def _engagement_split(f: analytics.Funnel) -> dict[str, str]:
    """People who opened, recipients only machines opened for, and every machine open."""
    opens = (
        "–"
        if f.open_note
        else _split(f.opened_human_unique, f.opened_machine_unique, f.opened_machine_total, "opens")
    )
    clicks = _split(
        f.clicked_human_unique, f.clicked_machine_unique, f.clicked_machine_total, "clicks"
    )
    return {"opens_split": opens, "clicks_split": clicks}


def _split(human: int, machine_only: int, machine_events: int, kind: str) -> str:
    """ "412 human · 380 machine only · 951 machine opens" """
    return f"{human:,} human · {machine_only:,} machine only · {machine_events:,} machine {kind}"


def _snapshot(
    cid: int, since: str, until: str, channel: str, machine: bool = False
) -> dict[str, object]:
    """Everything the page shows, read with one session (no state lock held meanwhile)."""
    filters = analytics.parse_filters(since, until, channel, "1" if machine else "")
    human = not filters.include_machine
    with session_scope() as session:
        campaign = session.get(Campaign, cid) if cid else None
        if campaign is None:
            return {"found": False, "live": False}
        analytics.refresh_rollups(session)
        report = analytics.campaign_funnel(
            session, cid, filters.channel, filters.since, filters.until, not human
        )
        hourly = analytics.campaign_hourly(
            session, cid, filters.channel, filters.since, filters.until, include_machine=not human
        )
        links = analytics.top_links(
            session, cid, filters.channel, filters.since, filters.until, include_machine=not human
        )
        earned = revenue.campaign_earnings(session, cid, filters.channel)
        measured = lift.campaign_lift(session, cid)
        ab_test = ab.ab_report(session, campaign)
        decide_at = ab_decision.decide_at(campaign)
        name, status, sent_at = campaign.name, campaign.status, campaign.sent_at
        zone = business_identity(session).timezone
    sent_channels = analytics.channels_sent(report)
    shown = report.by_channel if len(report.by_channel) > 1 else {"": report.funnel}
    query = {"since": since, "until": until, "channel": channel, "campaign_id": str(cid)}
    query["machine"] = "" if human else "1"
    return {
        "found": True,
        "name": name,
        "status": status,
        "sent_at": format_datetime(sent_at, zone),
        "funnel": _funnel_dict(report.funnel) | _engagement_split(report.funnel),
        "channels": [_funnel_dict(report.by_channel[ch]) for ch in sent_channels]
        if len(sent_channels) > 1
        else [],
        "failures": [
            {
                "channel": x.channel.upper(),
                "status": x.status,
                "reason": x.reason,
                "count": f"{x.count:,}",
            }  # fmt: skip
            for x in report.failures
        ],
        "links": [
            {
                "url": x.url,
                "clicks": f"{x.clicks:,}",
                "unique": f"{x.unique_clicks:,}",
                "machine": f"{x.machine_clicks:,}",
            }
            for x in links
        ],  # fmt: skip
        "funnel_fig": charts.funnel_figure(shown),
        "hourly_fig": charts.hourly_figure(hourly, show_machine=not human),
        "revenue": earned.shown() | {"currency": earned.currency},
        **_lift_values(measured, zone),
        "has_hourly": any(
            p.opens or p.clicks or p.redemptions or p.machine_opens or p.machine_clicks
            for p in hourly
        ),
        "has_ab": ab_test.has_test,
        "ab_rows": [_ab_row(v) for v in ab_test.variants],
        "ab_fig": charts.ab_figure(ab_test) if ab_test.has_test else go.Figure(),
        "ab_info": _ab_info(ab_test, format_datetime(decide_at, zone) if decide_at else ""),
        "exports": export_links(analytics.CAMPAIGN_TABLES, query),
        "live": status in statuses.IN_PROGRESS,
    }


def _lift_values(measured: lift.Lift | None, zone: str) -> dict[str, object]:
    """The Holdout lift card: shown when the campaign had a holdout option or a holdout group."""
    if measured is None or (measured.holdout_percent <= 0 and not measured.has_holdout):
        return {"has_lift": False, "lift_rows": [], "lift_fig": go.Figure()}
    window = (
        f"{format_datetime(measured.since, zone)} to {format_datetime(measured.until, zone)}"
        + ("" if measured.complete else " (still open: numbers can change)")
        if measured.since is not None
        else "starts when the campaign is sent"
    )
    return {
        "has_lift": True,
        "lift_summary": measured.summary,
        "lift_groups": (
            f"{measured.held_out.customers:,} held out ({measured.holdout_percent}% chosen), "
            f"{measured.messaged.customers:,} messaged"
        ),
        "lift_window": str(measured.window_days),
        "lift_window_text": window,
        "lift_rows": [measured.shown(m) for m in lift.METRICS] if measured.has_holdout else [],
        "lift_fig": charts.lift_figure(measured) if measured.has_holdout else go.Figure(),
        "lift_error": "",
    }


class CampaignAnalyticsState(AuthState):
    shown_campaign_id: int = 0
    name: str = ""
    status: str = ""
    sent_at: str = ""
    found: bool = False
    since: str = ""
    until: str = ""
    channel: str = "all"
    funnel: dict[str, str] = {}
    revenue: dict[str, str] = {}  # analytics.revenue.Earnings.shown() and the currency
    channels: list[dict[str, str]] = []  # one per channel when both were sent
    failures: list[dict[str, str]] = []
    links: list[dict[str, str]] = []
    funnel_fig: go.Figure = go.Figure()
    hourly_fig: go.Figure = go.Figure()
    has_hourly: bool = False
    has_ab: bool = False
    ab_rows: list[dict[str, str]] = []  # one per variant (analytics.ab.VariantResult, as shown)
    ab_fig: go.Figure = go.Figure()
    ab_info: dict[str, str] = {}
    ab_message: str = ""
    exports: dict[str, str] = {}
    has_lift: bool = False  # the campaign has a holdout: the Holdout lift card shows
    lift_summary: str = ""
    lift_groups: str = ""
    lift_window: str = "14"  # days after the send (the input's text)
    lift_window_text: str = ""
    lift_rows: list[dict[str, str]] = []  # lift.Lift.shown() per metric
    lift_fig: go.Figure = go.Figure()
    lift_error: str = ""
    live: bool = False
    include_machine: bool = False  # count proxy and scanner opens/clicks as people's
    _watch_generation: int = 0

    def _read(self) -> None:
        self._apply(
            _snapshot(
                self.shown_campaign_id, self.since, self.until, self.channel, self.include_machine
            )
        )

    def _apply(self, values: dict[str, object]) -> None:
        for key, value in values.items():
            setattr(self, key, value)

    @rx.event
    def load(self):
        self.shown_campaign_id = route_id(self)
        self._read()
        if self.live:
            return CampaignAnalyticsState.watch
        return None

    @rx.event(background=True)
    async def watch(self):
        """Re-read while the campaign is sending and this page stays open."""
        async with self:  # the newest loop wins: at most one per client and page
            self._watch_generation += 1
            generation, path = self._watch_generation, self.router.url.path
        while True:
            await asyncio.sleep(LIVE_POLL_S)
            async with self:
                if generation != self._watch_generation or not self.live:
                    return
                if self.router.url.path != path or not still_allowed(self):
                    return
                args = (
                    self.shown_campaign_id,
                    self.since,
                    self.until,
                    self.channel,
                    self.include_machine,
                )
            values = await asyncio.to_thread(_snapshot, *args)
            async with self:
                self._apply(values)

    @rx.event
    def pick_winner(self, label: str):
        """The owner sends this variant to the rest now, before the window ends (audited)."""
        try:
            with session_scope() as session:
                decision = ab_decision.pick_by_hand(session, self.shown_campaign_id, label[:1])
        except SendError as exc:
            self.ab_message = str(exc)
        else:
            self.ab_message = f"Variant {label[:1]} is going to {decision.added:,} more recipients."
        self._read()

    @rx.event
    def set_since(self, value: str):
        self.since = value
        self._read()

    @rx.event
    def set_until(self, value: str):
        self.until = value
        self._read()

    @rx.event
    def set_channel(self, value: str):
        self.channel = value if value in analytics.CHANNEL_CHOICES else "all"
        self._read()

    @rx.event
    def set_lift_window(self, value: str):
        """Save the days after the send over which lift is measured (1-90)."""
        self.lift_window = value
        try:
            with session_scope() as session:
                lift.save_window(session, self.shown_campaign_id, value)
        except lift.LiftError as exc:
            self.lift_error = str(exc)
            return
        self._read()

    @rx.event
    def clear_filters(self):
        self.since, self.until, self.channel = "", "", "all"
        self.include_machine = False
        self._read()

    # Human engagement ------------------------------------------------------------------------

    @rx.event
    def set_include_machine(self, value: bool):
        self.include_machine = bool(value)
        self._read()
