"""What the progress page shows: counts from the rows, rates from the live counters, waits and their reasons, cached briefly."""

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from sqlalchemy import func, select
from sqlmodel import Session

from marketing_ui.core import statuses
from marketing_ui.core.app_settings import sending_limits
from marketing_ui.core.audience import channels_of
from marketing_ui.core.clock import as_utc, utcnow
from marketing_ui.core.deliverability import (
    ChannelHealth,
    campaign_pause_message,
    channel_health,
)
from marketing_ui.core.models import (
    AbPhase,
    Campaign,
    CampaignStatus,
    CampaignVariant,
    Delivery,
    DeliveryStatus,
    SkipReason,
    WaitReason,
)
from marketing_ui.core.redis_client import get_redis
from marketing_ui.core.sending import heartbeat, live
from marketing_ui.core.sending.commands import current_failure_reason

RATE_LOOKBACK_S = 60  # the current rate covers sends of the last minute (see _rates)
PROGRESS_CACHE_MS = 700  # many browsers watching one campaign cost one query per 0.7 s


@dataclass
class Wait:
    """Messages waiting for one reason, and the earliest moment one of them is retried."""

    reason: str  # a WaitReason
    count: int
    resumes_at: str = ""  # ISO UTC; "" when due now (worker lost: taken over within seconds)


@dataclass
class ChannelProgress:
    """One channel's numbers as the progress page shows them."""

    channel: str
    total: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)  # SkipReason ("": other)
    # The holdout group: frozen as skipped (reason holdout) but neither a skip to fix nor a
    # recipient; left out of total, skipped and the percentage.
    held_out: int = 0
    cancelled: int = 0
    pending: int = 0
    inflight: int = 0
    waiting_quiet_hours: int = 0
    waiting: dict[str, int] = field(default_factory=dict)  # WaitReason -> messages
    rate_per_s: float | None = None  # None: nothing sent in the last minute, or not sending
    eta_s: float | None = None

    @property
    def remaining(self) -> int:
        return self.pending + self.inflight

    @property
    def held_back(self) -> int:
        """Recipients the frequency cap held back (skipped at the freeze, never sent)."""
        return self.skipped_by_reason.get(SkipReason.FREQUENCY_CAP.value, 0)

    @property
    def handled(self) -> int:
        """Recipients the send is done with: sent, failed or skipped (cancelled ones are not)."""
        return self.sent + self.failed + self.skipped

    @property
    def percent(self) -> float | None:
        """Share of recipients handled; None without recipients (a bar of nothing is no 100%)."""
        return 100.0 * self.handled / self.total if self.total else None


@dataclass
class Progress:
    """Everything the live view needs, from one GROUP BY and a few Redis reads."""

    campaign_id: int
    name: str
    status: str
    failure_reason: str = ""
    channels: list[ChannelProgress] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    pause_message: str = ""  # why the deliverability guard paused it ("" if it did not)
    health: list[ChannelHealth] = field(default_factory=list)  # bounce and complaint rates
    guard_since: str = ""  # ISO time the guard's window starts ("" : the whole send)
    waits: list[Wait] = field(default_factory=list)  # what the remaining messages wait for
    ab_note: str = ""  # where the campaign's A/B test is ("" without one)
    ab_waiting: bool = False  # the test share went out; the rest waits for the winner

    @property
    def total(self) -> int:
        return sum(c.total for c in self.channels)

    @property
    def remaining(self) -> int:
        return sum(c.remaining for c in self.channels)

    @property
    def percent(self) -> float | None:
        """Share of recipients handled (a cancelled send stops short of 100%); None without any."""
        handled = sum(c.handled for c in self.channels)
        return 100.0 * handled / self.total if self.total else None

    @property
    def rate_per_s(self) -> float | None:
        rates = [c.rate_per_s for c in self.channels if c.rate_per_s is not None]
        return sum(rates) if rates else None


def _rates(campaign_id: int, now: float | None = None) -> dict[str, float]:
    """Messages per second per channel: sends of the last minute over the time since the first.

    Workers record sends per whole second, and in lumps (a batch of 100 emails lands in one
    second, a rate-limited SMS job every few seconds), so a short fixed window reads 0 between
    lumps. Measuring from the first send inside the last minute gives the real average pace;
    a channel with no send in the last minute has no current rate (it is left out).
    """
    now = time.time() if now is None else now
    current = int(now)
    first = current - RATE_LOOKBACK_S + 1
    r = get_redis()
    with r.pipeline() as pipe:
        for second in range(first, current + 1):
            pipe.hgetall(live.key(campaign_id, "rate", str(second)))
        buckets = pipe.execute()
    totals: dict[str, int] = {}
    since: dict[str, int] = {}
    for second, bucket in zip(range(first, current + 1), buckets, strict=True):
        for raw, n in bucket.items():
            channel = raw.decode()
            totals[channel] = totals.get(channel, 0) + int(n)
            since.setdefault(channel, second)
    return {ch: n / max(now - since[ch], 1.0) for ch, n in totals.items()}


def recent_errors(campaign_id: int, limit: int = 10) -> list[dict[str, str]]:
    raw = get_redis().lrange(live.key(campaign_id, "errors"), 0, limit - 1)
    return [json.loads(item) for item in raw]


def _progress_from_db(session: Session, campaign: Campaign) -> Progress:
    assert campaign.id is not None
    # One GROUP BY: counts per channel and status, and for what is left, why it waits (and
    # who holds what is in flight) with the earliest retry of each reason.
    rows = session.execute(
        select(
            Delivery.channel,
            Delivery.status,
            Delivery.wait_reason,
            Delivery.lease_holder,
            Delivery.skip_reason,
            func.count(),
            func.min(Delivery.next_attempt_at),
        )
        .where(Delivery.campaign_id == campaign.id)
        .group_by(
            Delivery.channel,
            Delivery.status,
            Delivery.wait_reason,
            Delivery.lease_holder,
            Delivery.skip_reason,
        )
    ).all()
    dead = heartbeat.dead(
        holder
        for _, status, _, holder, _, _, _ in rows
        if status == DeliveryStatus.INFLIGHT and holder
    )
    by_channel = {c.value: ChannelProgress(c.value) for c in channels_of(campaign.channel)}
    waits: dict[str, Wait] = {}
    now = utcnow()
    for channel, status, reason, holder, skip_reason, n, next_at in rows:
        cp = by_channel.setdefault(channel, ChannelProgress(channel))
        if skip_reason == SkipReason.HOLDOUT:
            cp.held_out += n
            continue
        cp.total += n
        if status in statuses.REACHED:
            cp.sent += n
        elif status in (DeliveryStatus.FAILED, DeliveryStatus.BOUNCED):
            cp.failed += n
        elif status == DeliveryStatus.PENDING:
            cp.pending += n
        elif status == DeliveryStatus.INFLIGHT:
            cp.inflight += n
        elif status == DeliveryStatus.SKIPPED:
            cp.skipped += n
            why = skip_reason or ""
            cp.skipped_by_reason[why] = cp.skipped_by_reason.get(why, 0) + n
        elif status == DeliveryStatus.CANCELLED:
            cp.cancelled += n
        if status == DeliveryStatus.INFLIGHT and holder in dead:
            reason, next_at = WaitReason.WORKER_LOST.value, None  # the tick takes it over
        elif status != DeliveryStatus.PENDING or not reason:
            continue
        cp.waiting[reason] = cp.waiting.get(reason, 0) + n
        wait = waits.setdefault(reason, Wait(reason, 0))
        wait.count += n
        at = as_utc(next_at) if next_at is not None else None
        if at is not None and at > now:
            iso = at.isoformat(timespec="seconds")
            wait.resumes_at = min(wait.resumes_at, iso) if wait.resumes_at else iso
    for cp in by_channel.values():
        cp.waiting_quiet_hours = cp.waiting.get(WaitReason.QUIET_HOURS.value, 0)
    rates = _rates(campaign.id) if campaign.status == CampaignStatus.SENDING else {}
    for cp in by_channel.values():
        rate = rates.get(cp.channel)
        cp.rate_per_s = None if rate is None else round(rate, 3)
        active = cp.remaining - cp.waiting_quiet_hours
        cp.eta_s = round(active / rate, 1) if rate and active > 0 else None
    failed = sum(c.failed for c in by_channel.values())
    attempted = failed + sum(c.sent for c in by_channel.values())
    threshold = sending_limits(session).failure_threshold_pct
    order = list(WaitReason)
    return Progress(
        campaign.id,
        campaign.name,
        campaign.status,
        current_failure_reason(campaign, failed, attempted, threshold),
        list(by_channel.values()),
        recent_errors(campaign.id),
        campaign_pause_message(campaign),
        channel_health(session, campaign),
        as_utc(campaign.guard_since).isoformat() if campaign.guard_since else "",
        sorted(waits.values(), key=lambda w: order.index(WaitReason(w.reason))),
        ab_progress_note(session, campaign),
        campaign.ab_phase == AbPhase.TESTING,
    )


AB_METRIC_WORDS = {"clicks": "unique human clicks", "redemptions": "coupon redemptions"}


def ab_progress_note(session: Session, campaign: Campaign) -> str:
    """What the progress page says about the campaign's A/B test ("" without one)."""
    if campaign.ab_phase == AbPhase.TESTING and campaign.sent_at is not None:
        decide = as_utc(campaign.sent_at) + timedelta(hours=campaign.ab_window_hours)
        metric = AB_METRIC_WORDS.get(campaign.ab_metric, campaign.ab_metric)
        return (
            f"A/B test: the test share ({campaign.ab_test_percent}% of the audience) gets the "
            f"variants now. At {decide:%Y-%m-%d %H:%M} UTC the variant with the most {metric} "
            "per recipient wins and the rest of the audience is sent it; until then the rest "
            "waits. You can pick the winner sooner on the campaign's analytics page."
        )
    if campaign.ab_phase == AbPhase.DECIDED and campaign.ab_winner_variant_id is not None:
        winner = session.get(CampaignVariant, campaign.ab_winner_variant_id)
        label = winner.label if winner is not None else "?"
        when = (
            f" at {as_utc(campaign.ab_decided_at):%Y-%m-%d %H:%M} UTC"
            if campaign.ab_decided_at
            else ""
        )
        return f"A/B test decided{when}: variant {label} won and goes to the rest of the audience."
    return ""


def progress(session: Session, campaign_id: int) -> Progress | None:
    """The live numbers, cached in Redis for under a second so N viewers cost one query."""
    r = get_redis()
    cache_key = live.key(campaign_id, "progress")
    cached = r.get(cache_key)
    if cached is not None:
        data = json.loads(cached)
        data["channels"] = [ChannelProgress(**c) for c in data["channels"]]
        data["health"] = [ChannelHealth(**h) for h in data.get("health", [])]
        data["waits"] = [Wait(**w) for w in data.get("waits", [])]
        return Progress(**data)
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        return None
    result = _progress_from_db(session, campaign)
    r.set(cache_key, json.dumps(asdict(result)), px=PROGRESS_CACHE_MS)
    return result
