"""Sending a campaign: freeze the audience, start, schedule, pause/resume/cancel, progress, test sends.

The worker side (claim, render, rate-limit, deliver, record) lives in `workers/`; this module
is what pages and the periodic scheduler call. See docs/send_pipeline.md.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, Integer, String, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from marketing_ui.core import audit
from marketing_ui.core.app_settings import business_identity, sending_limits
from marketing_ui.core.audience import Audience, audience_clause, channels_of
from marketing_ui.core.config import get_settings
from marketing_ui.core.coupons import issue_coupons, void_unsent_coupons
from marketing_ui.core.crypto import blind_indexer
from marketing_ui.core.customers import CustomerError, check_email, check_phone, looks_like_phone
from marketing_ui.core.deliverability import (
    OWNER_PAUSE,
    AutoPause,
    ChannelHealth,
    campaign_pause_message,
    channel_health,
)
from marketing_ui.core.messages import (
    compiled_email,
    email_headers,
    from_address,
    sample_email,
    sample_sms,
)
from marketing_ui.core.models import (
    Campaign,
    CampaignStatus,
    Channel,
    Customer,
    Delivery,
    DeliveryStatus,
    FailureKind,
    WaitReason,
    as_utc,
    utcnow,
)
from marketing_ui.core.redis_client import get_redis
from marketing_ui.core.sms import compile_sms
from workers import dispatch, heartbeat

log = logging.getLogger(__name__)

RATE_LOOKBACK_S = 60  # the current rate covers sends of the last minute (see _rates)
ERRORS_KEPT = 20
PROGRESS_CACHE_MS = 700  # many browsers watching one campaign cost one query per 0.7 s
ABORT_MIN_ATTEMPTS = 50  # never fail a campaign mid-send on fewer outcomes than this
_REMAINING = (DeliveryStatus.PENDING.value, DeliveryStatus.INFLIGHT.value)


class SendError(ValueError):
    """A send cannot start or change state; the message is for the user."""


# Redis keys and live counters ---------------------------------------------------------------


def _key(campaign_id: int, *parts: str) -> str:
    return ":".join((get_settings().queue_prefix, "send", str(campaign_id), *parts))


def note_outcomes(campaign_id: int, channel: str, counts: dict[str, int]) -> dict[str, int]:
    """Add outcomes to the live counters (rate per second, totals); returns the campaign totals.

    Redis is a fast path only: a Redis restart loses these and the DB stays the truth.
    """
    r = get_redis()
    sent = counts.get("sent", 0)
    second = int(time.time())
    with r.pipeline() as pipe:
        if sent:
            rate_key = _key(campaign_id, "rate", str(second))
            pipe.hincrby(rate_key, channel, sent)
            pipe.expire(rate_key, 120)
        for outcome, n in counts.items():
            if n:
                pipe.hincrby(_key(campaign_id, "counts"), f"{channel}:{outcome}", n)
        pipe.expire(_key(campaign_id, "counts"), 7 * 86400)
        pipe.hgetall(_key(campaign_id, "counts"))
        totals = pipe.execute()[-1]
    return {k.decode(): int(v) for k, v in totals.items()}


def note_errors(campaign_id: int, channel: str, reasons: list[str]) -> None:
    """Keep the last few error reasons for the progress view (reasons are already PII-free)."""
    if not reasons:
        return
    r = get_redis()
    at = utcnow().isoformat(timespec="seconds")
    key = _key(campaign_id, "errors")
    with r.pipeline() as pipe:
        for reason in reasons[-ERRORS_KEPT:]:
            pipe.lpush(key, json.dumps({"at": at, "channel": channel, "reason": reason[:300]}))
        pipe.ltrim(key, 0, ERRORS_KEPT - 1)
        pipe.expire(key, 7 * 86400)
        pipe.execute()


def mark_active(campaign_id: int, channel: str) -> None:
    """A batch job touched this campaign: the sweeper leaves its pending deliveries alone a while."""
    get_redis().set(_key(campaign_id, "active", channel), "1", ex=30)


def recently_active(campaign_id: int, channel: str) -> bool:
    return bool(get_redis().exists(_key(campaign_id, "active", channel)))


def _forget_progress(campaign_id: int) -> None:
    get_redis().delete(_key(campaign_id, "progress"))


# Start and schedule ------------------------------------------------------------------------


@dataclass(frozen=True)
class StartResult:
    """What a start request did; `created` is False when the send already existed."""

    campaign_id: int
    status: str
    created: bool
    recipients: dict[str, int]
    message: str


def _check_content(campaign: Campaign) -> None:
    """Compile the templates before freezing, so a broken template fails the click, not 10,000 sends."""
    channels = channels_of(campaign.channel)
    if Channel.EMAIL in channels:
        compiled_email(campaign)
    if Channel.SMS in channels:
        compile_sms(campaign.sms_body)


def _insert_ignore(session: Session):  # noqa: ANN202 - a dialect-specific Insert
    if session.get_bind().dialect.name == "postgresql":
        return pg_insert(Delivery.__table__)
    return sqlite_insert(Delivery.__table__)


def _freeze(session: Session, campaign: Campaign, channel: Channel, now: datetime) -> int:
    """INSERT ... SELECT one pending delivery per reachable recipient; existing ones are kept."""
    audience = Audience.from_json(campaign.audience_json)
    stamp = literal(now, type_=DateTime(timezone=True))
    rows = select(
        literal(campaign.id, type_=Integer),
        Customer.id,
        literal(channel.value, type_=String),
        literal(DeliveryStatus.PENDING.value, type_=String),
        literal(0, type_=Integer),
        literal("", type_=String),
        stamp,
        stamp,
    ).where(audience_clause(session, audience, channel))
    columns = [
        "campaign_id",
        "customer_id",
        "channel",
        "status",
        "attempts",
        "error",
        "created_at",
        "updated_at",
    ]
    stmt = _insert_ignore(session).from_select(columns, rows).on_conflict_do_nothing()
    return session.execute(stmt).rowcount or 0


def _counts_by_channel(session: Session, campaign_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Delivery.channel, func.count())
        .where(Delivery.campaign_id == campaign_id)
        .group_by(Delivery.channel)
    ).all()
    return {channel: n for channel, n in rows}


def start_send(session: Session, campaign_id: int) -> StartResult:
    """Freeze the audience, issue its coupons and queue the batches; a second call creates nothing.

    The first statement flips draft/scheduled -> sending, which takes the row (PostgreSQL) or
    database (SQLite) write lock; a concurrent start waits, then finds nothing to flip.
    Commits.
    """
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise SendError(f"Campaign #{campaign_id} does not exist.")
    startable = (CampaignStatus.DRAFT.value, CampaignStatus.SCHEDULED.value)
    if campaign.status not in startable:
        return _existing(session, campaign)
    _check_content(campaign)
    now = utcnow()
    flipped = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status.in_(startable))
        .values(
            status=CampaignStatus.SENDING.value,
            sent_at=now,
            updated_at=now,
            failure_reason="",
            failure_kind="",
        )
    ).rowcount
    if not flipped:
        session.rollback()
        session.refresh(campaign)
        return _existing(session, campaign)
    channels = channels_of(campaign.channel)
    for channel in channels:
        _freeze(session, campaign, channel, now)
    if campaign.has_qr_code:
        issue_coupons(session, campaign_id)
    counts = _counts_by_channel(session, campaign_id)
    if not counts:
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(status=CampaignStatus.SENT.value, finished_at=now)
        )
    audit.record(
        session, "campaign.send", "campaign", campaign_id, f"{sum(counts.values())} messages"
    )
    session.commit()
    session.refresh(campaign)
    for channel in channels:
        enqueue_pending(session, campaign_id, channel.value)
    total = sum(counts.values())
    message = (
        f"Sending to {total:,} recipients."
        if total
        else "Nobody in this audience can be reached; nothing was sent."
    )
    return StartResult(campaign_id, campaign.status, True, counts, message)


def _existing(session: Session, campaign: Campaign) -> StartResult:
    assert campaign.id is not None
    counts = _counts_by_channel(session, campaign.id)
    return StartResult(
        campaign.id,
        campaign.status,
        False,
        counts,
        f"This campaign is already {campaign.status}; nothing new was queued.",
    )


def schedule_send(session: Session, campaign_id: int, when: datetime) -> Campaign:
    """Start automatically at `when` (the periodic scheduler checks every few seconds). Commits."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise SendError(f"Campaign #{campaign_id} does not exist.")
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        raise SendError(f"A {campaign.status} campaign cannot be scheduled.")
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if when < utcnow() - timedelta(minutes=1):
        raise SendError("Pick a time in the future.")
    _check_content(campaign)
    campaign.status = CampaignStatus.SCHEDULED.value
    campaign.scheduled_at = when.astimezone(UTC)
    campaign.updated_at = utcnow()
    session.add(campaign)
    audit.record(
        session,
        "campaign.schedule",
        "campaign",
        campaign_id,
        f"for {campaign.scheduled_at:%Y-%m-%d %H:%M} UTC",
    )
    session.commit()
    return campaign


def unschedule(session: Session, campaign_id: int) -> bool:
    """Back to draft; False if it already started. Commits."""
    done = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.SCHEDULED)
        .values(status=CampaignStatus.DRAFT.value, scheduled_at=None, updated_at=utcnow())
    ).rowcount
    if done:
        audit.record(session, "campaign.unschedule", "campaign", campaign_id)
    session.commit()
    return bool(done)


def run_due_schedules(session: Session, now: datetime | None = None) -> list[int]:
    """Start every scheduled campaign whose time has come; returns their ids."""
    now = now or utcnow()
    due = session.execute(
        select(Campaign.id).where(
            Campaign.status == CampaignStatus.SCHEDULED, Campaign.scheduled_at <= now
        )
    ).scalars()
    started = []
    for campaign_id in list(due):
        try:
            if start_send(session, campaign_id).created:
                started.append(campaign_id)
        except Exception as exc:  # noqa: BLE001 - one broken campaign must not block the others
            session.rollback()
            _fail(
                session,
                campaign_id,
                f"Could not start the scheduled send: {exc}",
                FailureKind.START,
            )
    return started


# Queueing ------------------------------------------------------------------------------------


def enqueue_pending(session: Session, campaign_id: int, channel: str) -> int:
    """Queue jobs for every pending delivery of one channel (due now, or at its retry time)."""
    rows = session.execute(
        select(Delivery.id, Delivery.send_key, Delivery.next_attempt_at)
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.channel == channel,
            Delivery.status == DeliveryStatus.PENDING,
        )
        .order_by(Delivery.id)
    ).all()
    now = utcnow()
    due = [(i, k) for i, k, at in rows if at is None or as_utc(at) <= now]
    later: dict[datetime, list[tuple[int, str | None]]] = {}
    for i, k, at in rows:
        if at is not None and as_utc(at) > now:
            later.setdefault(as_utc(at).replace(second=0, microsecond=0), []).append((i, k))
    jobs = dispatch.enqueue_deliveries(campaign_id, channel, due)
    for minute, items in later.items():
        jobs += dispatch.enqueue_deliveries(
            campaign_id, channel, items, at=minute + timedelta(minutes=1)
        )
    return jobs


# Control -------------------------------------------------------------------------------------


def pause(session: Session, campaign_id: int, auto: AutoPause | None = None) -> bool:
    """Stop claiming new deliveries; batches already at the provider finish. Commits.

    `auto` is the deliverability guard's reason, stored on the campaign; a pause by the owner
    (None) clears any earlier one.
    """
    now = utcnow()
    reason = auto.columns(now) if auto else OWNER_PAUSE
    done = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.SENDING)
        .values(status=CampaignStatus.PAUSED.value, updated_at=now, **reason)
    ).rowcount
    if done:
        summary = f"automatic: {auto.summary}" if auto else ""
        audit.record(session, "campaign.pause", "campaign", campaign_id, summary)
    session.commit()
    _forget_progress(campaign_id)
    return bool(done)


def resume(session: Session, campaign_id: int) -> bool:
    """Back to sending and re-queue what is pending (jobs that ran while paused claimed nothing)."""
    done = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.PAUSED)
        .values(status=CampaignStatus.SENDING.value, updated_at=utcnow())
    ).rowcount
    if done:
        audit.record(session, "campaign.resume", "campaign", campaign_id)
    session.commit()
    if done:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        for channel in channels_of(campaign.channel):
            enqueue_pending(session, campaign_id, channel.value)
        finish_if_done(session, campaign_id)
    _forget_progress(campaign_id)
    return bool(done)


def cancel(session: Session, campaign_id: int) -> int:
    """Cancel a sending, paused or scheduled campaign; returns how many queued messages will never go.

    Deliveries already handed to a provider (in flight) finish; everything pending is cancelled
    in one statement, and a job that picks one up later finds nothing to claim. Commits.
    """
    now = utcnow()
    done = session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.status.in_(
                (CampaignStatus.SENDING, CampaignStatus.PAUSED, CampaignStatus.SCHEDULED)
            ),
        )
        .values(status=CampaignStatus.CANCELLED.value, updated_at=now, finished_at=now)
    ).rowcount
    cancelled = 0
    if done:
        cancelled = (
            session.execute(
                update(Delivery)
                .where(
                    Delivery.campaign_id == campaign_id, Delivery.status == DeliveryStatus.PENDING
                )
                .values(status=DeliveryStatus.CANCELLED.value, updated_at=now, lease_until=None)
            ).rowcount
            or 0
        )
        void_unsent_coupons(session, campaign_id)
        audit.record(
            session, "campaign.cancel", "campaign", campaign_id, f"{cancelled} messages not sent"
        )
    session.commit()
    _forget_progress(campaign_id)
    return cancelled


def retry_failed(session: Session, campaign_id: int) -> int:
    """Put failed deliveries back in line ("retry failed only"); returns how many. Commits.

    They keep their provider group (send_key), so a group whose outcome was unknown is
    replayed under the same idempotency key; consent and suppression are checked again.
    """
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise SendError(f"Campaign #{campaign_id} does not exist.")
    if campaign.status not in (
        CampaignStatus.SENDING,
        CampaignStatus.PAUSED,
        CampaignStatus.SENT,
        CampaignStatus.FAILED,
    ):
        raise SendError(f"A {campaign.status} campaign has nothing to retry.")
    now = utcnow()
    count = (
        session.execute(
            update(Delivery)
            .where(Delivery.campaign_id == campaign_id, Delivery.status == DeliveryStatus.FAILED)
            .values(
                status=DeliveryStatus.PENDING.value,
                attempts=0,
                next_attempt_at=None,
                lease_until=None,
                updated_at=now,
            )
        ).rowcount
        or 0
    )
    if count and campaign.status in (CampaignStatus.SENT, CampaignStatus.FAILED):
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(
                status=CampaignStatus.SENDING.value,
                finished_at=None,
                failure_reason="",
                failure_kind="",
                updated_at=now,
            )
        )
    if count:
        audit.record(session, "campaign.retry", "campaign", campaign_id, f"{count} failed messages")
    session.commit()
    get_redis().delete(_key(campaign_id, "counts"))
    if count:
        for channel in channels_of(campaign.channel):
            enqueue_pending(session, campaign_id, channel.value)
    _forget_progress(campaign_id)
    return count


def _fail(session: Session, campaign_id: int, reason: str, kind: FailureKind) -> None:
    """End a campaign as failed and cancel what has not gone out. Commits."""
    now = utcnow()
    session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.status.in_(
                (CampaignStatus.SENDING, CampaignStatus.PAUSED, CampaignStatus.SCHEDULED)
            ),
        )
        .values(
            status=CampaignStatus.FAILED.value,
            failure_reason=reason,
            failure_kind=kind.value,
            finished_at=now,
            updated_at=now,
        )
    )
    session.execute(
        update(Delivery)
        .where(Delivery.campaign_id == campaign_id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.CANCELLED.value, updated_at=now)
    )
    session.commit()
    _forget_progress(campaign_id)


def _failure_reason(failed: int, attempted: int, threshold_pct: float) -> str | None:
    if attempted <= 0 or failed * 100.0 / attempted <= threshold_pct:
        return None
    return (
        f"{failed:,} of {attempted:,} messages failed ({failed * 100.0 / attempted:.0f}%), "
        f"more than the {threshold_pct:g}% threshold in Settings."
    )


def _failed_and_attempted(session: Session, campaign_id: int) -> tuple[int, int]:
    """Failed (or bounced) and attempted (failed + accepted) messages, as the rows say now."""
    counts = dict(
        session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.campaign_id == campaign_id)
            .group_by(Delivery.status)
        ).all()
    )
    failed = counts.get(DeliveryStatus.FAILED, 0) + counts.get(DeliveryStatus.BOUNCED, 0)
    accepted = sum(counts.get(s, 0) for s in (DeliveryStatus.SENT, DeliveryStatus.DELIVERED))
    return failed, failed + accepted


def abort_if_failing(session: Session, campaign_id: int, totals: dict[str, int]) -> bool:
    """Mid-send brake: a bad API key must not burn through the whole list.

    The live Redis counters only say when to look (they are cheap and approximate: a late
    duplicate job counts again); the decision and its reason come from the rows as they are.
    """
    failed = sum(v for k, v in totals.items() if k.endswith(":failed"))
    attempted = failed + sum(v for k, v in totals.items() if k.endswith(":sent"))
    threshold = sending_limits(session).failure_threshold_pct
    if attempted < ABORT_MIN_ATTEMPTS or _failure_reason(failed, attempted, threshold) is None:
        return False
    failed, attempted = _failed_and_attempted(session, campaign_id)
    reason = _failure_reason(failed, attempted, threshold)
    if attempted < ABORT_MIN_ATTEMPTS or reason is None:
        return False
    _fail(session, campaign_id, reason, FailureKind.THRESHOLD)
    return True


def finish_if_done(session: Session, campaign_id: int) -> str | None:
    """Mark a sending campaign sent (or failed past the threshold) once nothing is left. Commits."""
    left = session.execute(
        select(Delivery.id)
        .where(Delivery.campaign_id == campaign_id, Delivery.status.in_(_REMAINING))
        .limit(1)
    ).first()
    if left is not None:
        return None
    failed, attempted = _failed_and_attempted(session, campaign_id)
    reason = _failure_reason(failed, attempted, sending_limits(session).failure_threshold_pct)
    now = utcnow()
    status = CampaignStatus.FAILED if reason else CampaignStatus.SENT
    done = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.SENDING)
        .values(
            status=status.value,
            failure_reason=reason or "",
            failure_kind=FailureKind.THRESHOLD.value if reason else "",
            finished_at=now,
            updated_at=now,
        )
    ).rowcount
    session.commit()
    if done:
        _forget_progress(campaign_id)
        return status.value
    return None


def current_failure_reason(
    campaign: Campaign, failed: int, attempted: int, threshold_pct: float
) -> str:
    """A campaign failed for too many failures says how many fail *now*, not at that moment.

    Batches in flight when the brake fired, replays confirming what a timeout left unknown and
    "Retry failed only" all change the numbers after the fact.
    """
    if campaign.status != CampaignStatus.FAILED or campaign.failure_kind != FailureKind.THRESHOLD:
        return campaign.failure_reason
    reason = _failure_reason(failed, attempted, threshold_pct)
    if reason is not None:
        return reason
    share = f" ({failed * 100.0 / attempted:.0f}%)" if attempted else ""
    return (
        f"Stopped when failures passed the {threshold_pct:g}% threshold in Settings; as of now "
        f"{failed:,} of {attempted:,} messages failed{share}."
    )


# Progress ------------------------------------------------------------------------------------


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
            pipe.hgetall(_key(campaign_id, "rate", str(second)))
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
    raw = get_redis().lrange(_key(campaign_id, "errors"), 0, limit - 1)
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
            func.count(),
            func.min(Delivery.next_attempt_at),
        )
        .where(Delivery.campaign_id == campaign.id)
        .group_by(Delivery.channel, Delivery.status, Delivery.wait_reason, Delivery.lease_holder)
    ).all()
    dead = heartbeat.dead(
        holder
        for _, status, _, holder, _, _ in rows
        if status == DeliveryStatus.INFLIGHT and holder
    )
    by_channel = {c.value: ChannelProgress(c.value) for c in channels_of(campaign.channel)}
    waits: dict[str, Wait] = {}
    now = utcnow()
    for channel, status, reason, holder, n, next_at in rows:
        cp = by_channel.setdefault(channel, ChannelProgress(channel))
        cp.total += n
        if status in (DeliveryStatus.SENT, DeliveryStatus.DELIVERED):
            cp.sent += n
        elif status in (DeliveryStatus.FAILED, DeliveryStatus.BOUNCED):
            cp.failed += n
        elif status == DeliveryStatus.PENDING:
            cp.pending += n
        elif status == DeliveryStatus.INFLIGHT:
            cp.inflight += n
        elif status == DeliveryStatus.SKIPPED:
            cp.skipped += n
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
    )


def progress(session: Session, campaign_id: int) -> Progress | None:
    """The live numbers, cached in Redis for under a second so N viewers cost one query."""
    r = get_redis()
    cache_key = _key(campaign_id, "progress")
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


# Test sends ----------------------------------------------------------------------------------

MAX_TEST_RECIPIENTS = 5  # a test is for the owner's own inbox and phone, not a small send
_TEST_SEPARATORS = re.compile(r"[,;\r\n]+")  # never spaces: "+1 415 555 0199" is one number


@dataclass(frozen=True)
class TestRecipient:
    """One checked entry of the "send a test" box: what was typed and where it goes."""

    typed: str
    channel: Channel
    address: str  # the normalized email or the E.164 number


def parse_test_recipients(text: str, campaign_channel: str) -> list[TestRecipient]:
    """Entries separated by commas, semicolons or new lines, each an email or a phone number.

    Raises SendError naming every entry that cannot be used and why, or saying the box is empty.
    """
    entries = [entry.strip() for entry in _TEST_SEPARATORS.split(text or "") if entry.strip()]
    if not entries:
        raise SendError("Enter an email address or a phone number to send the test to.")
    if len(entries) > MAX_TEST_RECIPIENTS:
        raise SendError(
            f"A test goes to at most {MAX_TEST_RECIPIENTS} recipients; you entered "
            f"{len(entries)}. Separate them with commas, semicolons or new lines."
        )
    channels = channels_of(campaign_channel)
    only = {Channel.EMAIL: "email", Channel.SMS: "SMS"}
    recipients: list[TestRecipient] = []
    problems: list[str] = []
    for typed in entries:
        if "@" in typed:
            channel = Channel.EMAIL
        elif looks_like_phone(typed):
            channel = Channel.SMS
        else:
            wanted = " or ".join(
                "an email address" if c == Channel.EMAIL else "a phone number" for c in channels
            )
            problems.append(f"“{typed}” is not {wanted}.")
            continue
        if channel not in channels:
            kind = "an email address" if channel == Channel.EMAIL else "a phone number"
            problems.append(
                f"“{typed}” is {kind}, but this campaign sends only {only[channels[0]]}."
            )
            continue
        try:
            address = check_email(typed) if channel == Channel.EMAIL else check_phone(typed)
        except CustomerError as exc:
            kind = "email address" if channel == Channel.EMAIL else "phone number"
            reason = str(exc).split(": ", 1)[-1]
            problems.append(f"“{typed}” is not a valid {kind}: {reason}")
            continue
        recipients.append(TestRecipient(typed, channel, address))
    if problems:
        raise SendError("\n".join(problems))
    return recipients


def _customer_for(session: Session, channel: Channel, value: str) -> Customer | None:
    bidx = blind_indexer()
    if channel == Channel.EMAIL:
        return session.execute(
            select(Customer).where(Customer.email_bidx == bidx.email(value))
        ).scalar_one_or_none()
    return session.execute(
        select(Customer).where(Customer.phone_bidx == bidx.phone(value))
    ).scalar_one_or_none()


def send_test(session: Session, campaign_id: int, recipients: str) -> list[str]:
    """Send the campaign now to a few addresses/numbers, marked as a test; one status line each.

    `recipients` is the text of the "send a test" box (see parse_test_recipients, which raises
    SendError before anything is sent when an entry is unusable). A recipient who is a customer
    gets their own name, anyone else the sample customer's. Nothing is counted in the
    campaign's statistics and no delivery rows are written.
    """
    from workers.providers import OutgoingEmail, OutgoingSms, email_provider, sms_provider

    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise SendError(f"Campaign #{campaign_id} does not exist.")
    checked = parse_test_recipients(recipients, campaign.channel)
    business = business_identity(session)
    settings = get_settings()
    results: list[str] = []
    for recipient in checked:
        raw, channel, value = recipient.typed, recipient.channel, recipient.address
        customer = _customer_for(session, channel, value)
        first, last = (customer.first_name, customer.last_name) if customer else ("Alex", "Rivera")
        key = f"test-{uuid.uuid4().hex}"
        try:
            if channel == Channel.EMAIL:
                rendered, context = sample_email(campaign, first, last, business, settings)
                message = OutgoingEmail(
                    key=key,
                    to=value,
                    from_=from_address(campaign, business),
                    subject=f"[Test] {rendered.subject}",
                    html=rendered.html,
                    text=rendered.text,
                    headers=email_headers(context["unsubscribe_url"]),
                    tags={"test": "1", "campaign_id": str(campaign_id)},
                )
                outcome = email_provider(settings).send_batch([message], key)[0]
            else:
                body = "[Test] " + sample_sms(campaign, first, last, business, settings)
                outcome = sms_provider(settings).send(
                    OutgoingSms(key=key, to=value, from_=settings.twilio_from_number, body=body)
                )
        except Exception as exc:  # noqa: BLE001 - a test send reports, never crashes the page
            results.append(f"{raw}: not sent ({type(exc).__name__}: {exc})")
            continue
        if outcome.ok:
            results.append(f"{raw}: test {channel.value} sent.")
        else:
            results.append(f"{raw}: not sent ({outcome.error}).")
    sent = sum(r.endswith(" sent.") for r in results)
    audit.record(
        session, "campaign.test_send", "campaign", campaign_id, f"{sent} of {len(results)} sent"
    )
    session.commit()
    return results
