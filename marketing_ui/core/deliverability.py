"""The deliverability guard: live hard-bounce and complaint rates per campaign, and the pause.

Definitions, shared with core.analytics:
- sent: deliveries the provider accepted (`analytics.SENT_STATUSES`), per channel;
- hard bounce: a delivery in status `bounced` (Resend `email.bounced` of a permanent type, or
  a Twilio status report saying the number does not exist, see core/webhooks.py). A provider
  that refuses an address before accepting the message is a failure, not a bounce;
- complaint: a delivery with a `complained` event (Resend `email.complained`; email only).
Rates are shares of sent on the same channel; they change as webhooks arrive.

The rule. A campaign that is sending is paused (core/sending.pause, recorded in the audit log
as the system) when, on one channel, among the messages the guard judges (at least
`min_sample` of them), spam complaints are more than `complaint_limit_pct` of them, or hard
bounces more than `hard_bounce_limit_pct`. The reason is stored on the campaign (columns, not
text) and shown on the progress page and the campaign list.

Why a minimum sample: on a few messages one event is a large share (one bounce in 20 is 5%),
so a campaign would stop on noise. 200 is the default because the bounce limit then needs
more than 10 bounced addresses, so a few stale entries at the top of a list cannot stop a
send; a complaint limit of 0.3% still acts on a single complaint in the first 333 messages,
which is right: that is already above the share at which mailbox providers start filtering.

Resuming is the owner's decision, and the guard does not take it back with the numbers that
made it pause: each automatic pause sets `campaign.guard_since`, and from then on the guard
judges only messages sent after that moment, again once at least `min_sample` of them have
gone out. Late bounces and complaints about earlier messages still show in the campaign's
rates, but never pause it a second time; new ones about new messages do.

When it runs: after every stored hard bounce or complaint of a sending campaign (at most once
per second per campaign, see `after_signal`), and for every sending campaign on the workers'
periodic tick (every 5 s), which catches the moment a sample becomes large enough.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import redis
from sqlalchemy import and_, case, distinct, func, select, true
from sqlmodel import Session

from marketing_ui.core import audit, redis_keys
from marketing_ui.core.analytics import SENT_STATUSES
from marketing_ui.core.app_settings import DeliverabilityLimits, deliverability_limits
from marketing_ui.core.audience import channels_of
from marketing_ui.core.clock import as_utc
from marketing_ui.core.models import (
    Campaign,
    CampaignStatus,
    Channel,
    Delivery,
    DeliveryStatus,
    Event,
    EventType,
    PauseReason,
)
from marketing_ui.core.redis_client import get_redis

log = logging.getLogger(__name__)

CHECK_INTERVAL_MS = 1000  # webhooks of one campaign trigger at most one judgement per second

_deliveries = Delivery.__table__
_events = Event.__table__


@dataclass(frozen=True)
class ChannelHealth:
    """One channel of a campaign: all its messages, and those the guard judges."""

    channel: str
    sent: int = 0
    hard_bounced: int = 0
    complained: int = 0
    judged_sent: int = 0  # sent since `guard_since` (all of them when it is not set)
    judged_bounced: int = 0
    judged_complained: int = 0

    @property
    def hard_bounce_rate(self) -> float | None:
        """Hard bounces of messages sent; None before anything was sent."""
        return self.hard_bounced / self.sent if self.sent else None

    @property
    def complaint_rate(self) -> float | None:
        """Spam complaints of emails sent; None for SMS (no complaints) or nothing sent."""
        if self.channel != Channel.EMAIL or not self.sent:
            return None
        return self.complained / self.sent


@dataclass(frozen=True)
class AutoPause:
    """What made the guard pause a campaign: `count` of `sample` judged messages on `channel`."""

    reason: PauseReason
    channel: str
    count: int
    sample: int
    limit_pct: float

    def columns(self, now: datetime) -> dict[str, object]:
        """The campaign columns that record this pause (and restart the guard's window)."""
        return {
            "auto_pause_reason": self.reason.value,
            "auto_pause_channel": self.channel,
            "auto_pause_count": self.count,
            "auto_pause_sample": self.sample,
            "auto_pause_limit_pct": self.limit_pct,
            "guard_since": now,
        }

    @property
    def message(self) -> str:
        return pause_message(self.reason, self.channel, self.count, self.sample, self.limit_pct)

    @property
    def summary(self) -> str:
        """For the audit log: numbers only."""
        what = "spam complaints" if self.reason == PauseReason.COMPLAINTS else "hard bounces"
        return (
            f"{share_text(self.count, self.sample, self.limit_pct)} {self.channel} {what} "
            f"({self.count} of {self.sample} sent; limit {self.limit_pct:g}%)"
        )


# What a pause by the owner writes: no automatic reason (the guard's window is kept).
OWNER_PAUSE: dict[str, object] = {
    "auto_pause_reason": "",
    "auto_pause_channel": "",
    "auto_pause_count": 0,
    "auto_pause_sample": 0,
    "auto_pause_limit_pct": 0.0,
}


# Wording -------------------------------------------------------------------------------------


def share_text(count: int, of: int, above: float | None = None) -> str:
    """count/of as a percentage, "0.4%"; with `above`, enough decimals to show it is above."""
    if not of:
        return "–"
    exact = Decimal(count) * 100 / Decimal(of)
    for places in range(1, 5):
        shown = round(exact, places)
        if above is None or shown > Decimal(str(above)) or places == 4:
            break
    text = f"{shown:.{places}f}".rstrip("0").rstrip(".")
    return f"{text}%"


def pause_message(reason: str, channel: str, count: int, sample: int, limit_pct: float) -> str:
    """The sentence the progress page and the campaign list show ("" when not automatic)."""
    if not reason:
        return ""
    share = share_text(count, sample, limit_pct)
    limit = f"limit {limit_pct:g}%"
    if reason == PauseReason.COMPLAINTS:
        return (
            f"Paused automatically: {share} of recipients marked it as spam ({limit}). "
            "Check the content and the list before resuming."
        )
    if channel == Channel.SMS:
        return (
            f"Paused automatically: {share} of text messages went to numbers that do not "
            f"exist ({limit}). Check the list before resuming."
        )
    return (
        f"Paused automatically: {share} of emails bounced hard ({limit}). Check the list "
        "for old or mistyped addresses before resuming."
    )


def campaign_pause_message(campaign: Campaign) -> str:
    """Why a paused campaign was paused by the guard; "" when it is not paused automatically."""
    if campaign.status != CampaignStatus.PAUSED:
        return ""
    return pause_message(
        campaign.auto_pause_reason,
        campaign.auto_pause_channel,
        campaign.auto_pause_count,
        campaign.auto_pause_sample,
        campaign.auto_pause_limit_pct,
    )


# Numbers ---------------------------------------------------------------------------------------


def channel_health(session: Session, campaign: Campaign) -> list[ChannelHealth]:
    """Each channel's sent, hard bounces and complaints, overall and since `guard_since`.

    Two aggregates: deliveries of the campaign by channel (the (campaign_id, status) index),
    and its complaint events (the (campaign_id, type, created_at) index).
    """
    assert campaign.id is not None
    d = _deliveries.c
    sent = d.status.in_([s.value for s in SENT_STATUSES])
    bounced = d.status == DeliveryStatus.BOUNCED.value
    since = as_utc(campaign.guard_since)
    judged = d.sent_at >= since if since else true()

    def count(condition) -> object:  # noqa: ANN001 - a SQL condition
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    numbers: dict[str, dict[str, int]] = {c.value: {} for c in channels_of(campaign.channel)}
    for channel, *values in session.execute(
        select(
            d.channel,
            count(sent),
            count(bounced),
            count(and_(sent, judged)),
            count(and_(bounced, judged)),
        )
        .where(d.campaign_id == campaign.id)
        .group_by(d.channel)
    ):
        numbers.setdefault(channel, {}).update(
            zip(
                ("sent", "hard_bounced", "judged_sent", "judged_bounced"),
                map(int, values),
                strict=True,
            )
        )
    e = _events.c
    complained = select(
        d.channel,
        func.count(distinct(e.delivery_id)),
        func.count(distinct(case((judged, e.delivery_id)))),
    ).select_from(_events.join(_deliveries, d.id == e.delivery_id))
    for channel, total, judged_n in session.execute(
        complained.where(
            e.campaign_id == campaign.id, e.type == EventType.COMPLAINED.value
        ).group_by(d.channel)
    ):
        numbers.setdefault(channel, {}).update(
            complained=int(total), judged_complained=int(judged_n)
        )
    return [ChannelHealth(channel, **values) for channel, values in numbers.items()]


def _over(count: int, sample: int, limit_pct: float) -> bool:
    """count/sample > limit_pct%, exactly (0.3% of 1,000 is 3, and 3 is not above it)."""
    return Decimal(count) * 100 > Decimal(str(limit_pct)) * sample


def judge(health: list[ChannelHealth], limits: DeliverabilityLimits) -> AutoPause | None:
    """The reason to pause now, or None. Complaints first: they harm the sender the most."""
    judged = [h for h in health if h.judged_sent >= limits.min_sample]
    for h in judged:
        if h.channel == Channel.EMAIL and _over(
            h.judged_complained, h.judged_sent, limits.complaint_limit_pct
        ):
            return AutoPause(
                PauseReason.COMPLAINTS,
                h.channel,
                h.judged_complained,
                h.judged_sent,
                limits.complaint_limit_pct,
            )
    for h in judged:
        if _over(h.judged_bounced, h.judged_sent, limits.hard_bounce_limit_pct):
            return AutoPause(
                PauseReason.HARD_BOUNCES,
                h.channel,
                h.judged_bounced,
                h.judged_sent,
                limits.hard_bounce_limit_pct,
            )
    return None


# Acting ----------------------------------------------------------------------------------------


def enforce(session: Session, campaign_id: int) -> AutoPause | None:
    """Judge one campaign and pause it if it is sending and over a limit.

    Returns the reason when this call paused it. Pausing commits the session (the caller's
    pending writes, e.g. the webhook's bounce, commit with it).
    """
    from marketing_ui.core import sending  # sending imports this module for its progress view

    campaign = session.get(Campaign, campaign_id, populate_existing=True)  # never a stale copy
    if campaign is None or campaign.status != CampaignStatus.SENDING:
        return None
    verdict = judge(channel_health(session, campaign), deliverability_limits(session))
    if verdict is None:
        return None
    with audit.acting_as(audit.SYSTEM):
        paused = sending.pause(session, campaign_id, verdict)
    if not paused:
        return None  # paused, cancelled or finished meanwhile
    log.warning("campaign %s paused automatically: %s", campaign_id, verdict.summary)
    return verdict


def after_signal(session: Session, campaign_id: int) -> AutoPause | None:
    """A hard bounce or complaint was stored: judge its campaign, unless done in the last second.

    Many webhooks arrive together during a send; one judgement per second per campaign is
    enough, and one skipped here is made by the periodic tick within seconds.
    """
    status = session.execute(
        select(Campaign.status).where(Campaign.id == campaign_id)
    ).scalar_one_or_none()
    if status != CampaignStatus.SENDING:
        return None  # finished or paused: nothing to pause (most complaints arrive after a send)
    key = redis_keys.send_guard(campaign_id)
    try:
        if not get_redis().set(key, "1", nx=True, px=CHECK_INTERVAL_MS):
            return None
    except redis.RedisError:
        pass  # no throttle without Redis; judging is still right
    return enforce(session, campaign_id)


def enforce_sending(session: Session) -> list[int]:
    """The periodic tick: judge every sending campaign; returns the ids it paused."""
    ids = session.execute(
        select(Campaign.id).where(Campaign.status == CampaignStatus.SENDING)
    ).scalars()
    paused = []
    for campaign_id in list(ids):
        if enforce(session, campaign_id) is not None:
            paused.append(campaign_id)
    return paused


def guard_note(health: list[ChannelHealth], limits: DeliverabilityLimits, since: bool) -> str:
    """What the guard is waiting for, in a sentence ("" when it is judging every channel)."""
    waiting = [h for h in health if h.judged_sent < limits.min_sample]
    if not waiting:
        return ""
    fewest = min(h.judged_sent for h in waiting)
    if since:
        return (
            f"Since the automatic pause the guard judges only messages sent after it: "
            f"{fewest:,} so far; it acts again from {limits.min_sample:,}."
        )
    return (
        f"The guard acts once {limits.min_sample:,} messages of a channel have been sent "
        f"({fewest:,} so far)."
    )
