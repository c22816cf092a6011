"""Live send progress: a background loop polls core.sending.progress() while the page is open.

The numbers come from one GROUP BY (cached in Redis for 0.7 s) and Redis counters, so every
browser watching a campaign sees the same figures and a thousand viewers cost one query.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import reflex as rx

from marketing_ui.components import charts
from marketing_ui.core import deliverability, sending, statuses
from marketing_ui.core.app_settings import DeliverabilityLimits, deliverability_limits
from marketing_ui.core.db import session_scope
from marketing_ui.core.sending.heartbeat import TAKEOVER_S
from marketing_ui.state.access import still_allowed
from marketing_ui.state.auth import AuthState
from marketing_ui.state.route import route_id

POLL_S = 0.5
MAX_WATCH_S = 4 * 3600  # a tab left open on a finished send stops polling eventually


def _eta_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _rate_text(rate: float | None) -> str:
    """Two significant digits, so a slow SMS pace reads 0.25, never 0.0; "–" when none."""
    if rate is None:
        return "–"
    if rate >= 10:
        return f"{rate:,.0f}"
    return f"{rate:.1f}" if rate >= 1 else f"{rate:.2g}"


def _health_rows(p: sending.Progress) -> list[dict[str, str]]:
    """Hard bounces and complaints of each channel, as shares of its messages sent."""
    rows = []
    for h in p.health:
        sms = h.channel == "sms"
        rows.append(
            {
                "channel": h.channel.upper(),
                "sent": f"{h.sent:,} sent",
                "bounced": f"{'Numbers that do not exist' if sms else 'Hard bounces'} "
                f"{h.hard_bounced:,} ({charts.pct(h.hard_bounce_rate)})",
                "complained": ""
                if sms
                else f"Spam complaints {h.complained:,} ({charts.pct(h.complaint_rate)})",
            }
        )
    return rows


def _clock(iso: str) -> str:
    """HH:MM (UTC, like the error times), with seconds when it is within the next minutes."""
    if not iso:
        return ""
    at = datetime.fromisoformat(iso)
    return f"{at:%H:%M:%S}" if at.second else f"{at:%H:%M}"


def _messages(n: int) -> str:
    return f"{n:,} message{'' if n == 1 else 's'}"


def _wait_text(w: sending.Wait) -> str:
    """What a group of remaining messages waits for, and when it goes on."""
    at = _clock(w.resumes_at)
    when = f" at {at} UTC" if at else " now"
    if w.reason == "quiet_hours":
        return (
            f"{w.count:,} SMS waiting for quiet hours to end (from 08:00 in each recipient's "
            f"time zone; the first at {at} UTC)."
        )
    if w.reason == "worker_lost":
        return (
            f"{_messages(w.count)} waiting: worker lost, resuming within {TAKEOVER_S} s "
            "(replayed under the same key, or looked up first: none goes out twice)."
        )
    if w.reason == "unknown_outcome":
        return (
            f"{w.count:,} outcome unknown (the provider did not answer in time), re-checking{when}."
        )
    if w.reason == "rate_limited":
        return f"{_messages(w.count)} held back by the provider's rate limit, resuming{when}."
    return f"{_messages(w.count)} waiting to retry after a provider error, retrying{when}."


def _read(campaign_id: int) -> sending.Progress | None:
    with session_scope() as session:
        return sending.progress(session, campaign_id)


class CampaignProgressState(AuthState):
    shown_campaign_id: int = 0
    found: bool = True
    name: str = ""
    status: str = ""
    failure_reason: str = ""
    percent: float = 0.0
    percent_text: str = "–"
    total: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    held_back: int = 0  # of the skipped: held back by the frequency cap
    held_out: int = 0  # the holdout group: never messaged by design (not a skip)
    remaining: int = 0
    waiting_quiet_hours: int = 0
    waits: list[dict[str, str]] = []  # what the remaining messages wait for, and until when
    ab_note: str = ""  # where the campaign's A/B test is
    rate: str = "–"
    rate_hint: str = ""
    eta: str = "—"
    channels: list[dict[str, str]] = []
    errors: list[dict[str, str]] = []
    message: str = ""
    pause_message: str = ""  # why the deliverability guard paused it
    health: list[dict[str, str]] = []
    guard_limits: str = ""
    guard_note: str = ""
    _limits: DeliverabilityLimits = DeliverabilityLimits()
    updates: int = 0  # how many times the numbers were refreshed (tests watch it move)
    _generation: int = 0

    def _apply(self, p: sending.Progress | None) -> None:
        if p is None:
            self.found = False
            return
        self.found = True
        self.name, self.status, self.failure_reason = p.name, p.status, p.failure_reason
        self.percent = round(p.percent or 0.0, 1)
        self.percent_text = "–" if p.percent is None else f"{self.percent}%"
        self.total, self.remaining = p.total, p.remaining
        self.sent = sum(c.sent for c in p.channels)
        self.failed = sum(c.failed for c in p.channels)
        self.skipped = sum(c.skipped for c in p.channels)
        self.held_back = sum(c.held_back for c in p.channels)
        self.held_out = sum(c.held_out for c in p.channels)
        self.waiting_quiet_hours = sum(c.waiting_quiet_hours for c in p.channels)
        self.waits = [{"reason": w.reason, "text": _wait_text(w)} for w in p.waits]
        self.ab_note = p.ab_note
        self.rate = _rate_text(p.rate_per_s)
        if p.rate_per_s is not None:
            self.rate_hint = "average over the last minute"
        elif p.status == "sending":
            self.rate_hint = "no message went out in the last minute"
        else:
            self.rate_hint = f"not sending ({p.status})"
        etas = [c.eta_s for c in p.channels if c.eta_s is not None]
        if etas:
            self.eta = _eta_text(max(etas))
        elif p.ab_waiting and p.status in statuses.UNFINISHED:
            self.eta = "after the A/B decision"
        else:
            self.eta = "—" if p.remaining else "done"
        self.channels = [
            {
                "channel": c.channel.upper(),
                "total": f"{c.total:,}",
                "sent": f"{c.sent:,}",
                "failed": f"{c.failed:,}",
                "skipped": f"{c.skipped:,}",
                "held_back": f"{c.held_back:,}",
                "held_out": f"{c.held_out:,}",
                "cancelled": f"{c.cancelled:,}",
                "remaining": f"{c.remaining:,}",
                "waiting": f"{c.waiting_quiet_hours:,}",
                "rate": "–" if c.rate_per_s is None else f"{_rate_text(c.rate_per_s)}/s",
                "percent": "–" if c.percent is None else f"{c.percent:.0f}",
            }
            for c in p.channels
        ]
        self.pause_message = p.pause_message
        self.health = _health_rows(p)
        self.guard_note = (
            deliverability.guard_note(p.health, self._limits, bool(p.guard_since))
            if p.status in statuses.UNFINISHED
            else ""
        )
        self.errors = [
            {
                "at": e.get("at", "")[11:19],
                "channel": e.get("channel", "").upper(),
                "reason": e.get("reason", ""),
            }
            for e in p.errors
        ]
        self.updates += 1

    @rx.event
    def load(self):
        self.shown_campaign_id = route_id(self)
        self.message = ""
        self.errors, self.channels = [], []
        self._generation += 1
        with session_scope() as session:
            self._limits = deliverability_limits(session)
        self.guard_limits = (
            f"The send pauses itself when, after {self._limits.min_sample:,} messages of a "
            f"channel, spam complaints pass {self._limits.complaint_limit_pct:g}% or hard "
            f"bounces pass {self._limits.hard_bounce_limit_pct:g}% of them (Settings)."
        )
        self._apply(_read(self.shown_campaign_id) if self.shown_campaign_id else None)
        if self.found:
            return CampaignProgressState.watch

    @rx.event(background=True)
    async def watch(self):
        """Refresh about twice a second until the user leaves (or a newer load starts a loop)."""
        async with self:  # the newest loop wins: at most one per client and page
            self._generation += 1
            generation, campaign_id = self._generation, self.shown_campaign_id
            path = self.router.url.path
        loop = asyncio.get_running_loop()
        deadline = loop.time() + MAX_WATCH_S
        settled = 0
        while loop.time() < deadline:
            await asyncio.sleep(POLL_S)
            p = await asyncio.to_thread(_read, campaign_id)
            async with self:
                if self._generation != generation or self.router.url.path != path:
                    return
                if not still_allowed(self):
                    return
                self._apply(p)
                finished = self.status not in statuses.UNFINISHED
            # After the send ends, keep going a few seconds for the last numbers, then rest.
            settled = settled + 1 if finished else 0
            if settled > 10:
                return

    def _act(self, action: str) -> None:
        with session_scope() as session:
            try:
                if action == "pause":
                    ok = sending.pause(session, self.shown_campaign_id)
                    self.message = "Paused." if ok else "Only a sending campaign can be paused."
                elif action == "resume":
                    ok = sending.resume(session, self.shown_campaign_id)
                    self.message = "Resumed." if ok else "Only a paused campaign can be resumed."
                elif action == "cancel":
                    n = sending.cancel(session, self.shown_campaign_id)
                    self.message = f"Cancelled; {n:,} queued messages will not be sent."
                elif action == "retry":
                    n = sending.retry_failed(session, self.shown_campaign_id)
                    self.message = f"{n:,} failed messages queued again."
            except sending.SendError as exc:
                self.message = str(exc)
        self._generation += 1
        self._apply(_read(self.shown_campaign_id))

    @rx.event
    def pause(self):
        self._act("pause")
        return CampaignProgressState.watch

    @rx.event
    def resume(self):
        self._act("resume")
        return CampaignProgressState.watch

    @rx.event
    def cancel(self):
        self._act("cancel")
        return CampaignProgressState.watch

    @rx.event
    def retry_failed(self):
        self._act("retry")
        return CampaignProgressState.watch
