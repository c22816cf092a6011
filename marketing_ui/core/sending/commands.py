"""Campaign send commands: freeze the audience, start, schedule, pause/resume/cancel, retry, finish.

What pages and the periodic scheduler call; the worker stages (claim, compose, rate-limit,
deliver, record) are the other modules of this package. See docs/send_pipeline.md."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Select,
    String,
    and_,
    case,
    func,
    literal,
    select,
    update,
)
from sqlmodel import Session

from marketing_ui.core import ab_tests, audit, statuses
from marketing_ui.core.app_settings import frequency_cap, sending_limits
from marketing_ui.core.audience import (
    Audience,
    audience_clause,
    channels_of,
    reachable_clause,
)
from marketing_ui.core.clock import as_utc, utcnow
from marketing_ui.core.coupons import issue_coupons, void_unsent_coupons
from marketing_ui.core.db import insert_ignore
from marketing_ui.core.deliverability import (
    OWNER_PAUSE,
    AutoPause,
)
from marketing_ui.core.messages import (
    compiled_email,
)
from marketing_ui.core.models import (
    AbPhase,
    Campaign,
    CampaignStatus,
    Channel,
    Customer,
    Delivery,
    DeliveryStatus,
    FailureKind,
    SkipReason,
)
from marketing_ui.core.redis_client import get_redis
from marketing_ui.core.sending import holdout, live, queueing
from marketing_ui.core.sending.frequency_cap import (
    HELD_BACK,
    at_cap_clause,
    serialise_freezes,
    window_start,
)
from marketing_ui.core.sms import compile_sms

ABORT_MIN_ATTEMPTS = 50  # never fail a campaign mid-send on fewer outcomes than this
_REMAINING = (DeliveryStatus.PENDING.value, DeliveryStatus.INFLIGHT.value)


class SendError(ValueError):
    """A send cannot start or change state; the message is for the user."""


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


# Who a send goes to on one channel: a clause on Customer that includes consent and suppression.
Recipients = Callable[[Channel], ColumnElement[bool]]


def _freeze(
    session: Session,
    campaign: Campaign,
    channel: Channel,
    now: datetime,
    recipients: Recipients,
    variant: ColumnElement | None = None,
) -> int:
    """INSERT ... SELECT one delivery per reachable recipient; existing ones are kept.

    Each is pending, or skipped with skip_reason frequency_cap when the customer already has
    the cap's number of messages on this channel in the window (core/sending/frequency_cap.py).
    `variant` is the A/B test variant id each gets (an SQL expression; None: no test).
    """
    stamp = literal(now, type_=DateTime(timezone=True))
    cap = frequency_cap(session)
    assert campaign.id is not None
    at_cap = at_cap_clause(
        Customer.id, channel, cap.limit(channel.value), window_start(cap, now), campaign.id
    )
    skipped = DeliveryStatus.SKIPPED.value, SkipReason.FREQUENCY_CAP.value, HELD_BACK
    pending = DeliveryStatus.PENDING.value, "", ""
    status, reason, error = (
        case((at_cap, literal(s, type_=String)), else_=literal(p, type_=String))
        for s, p in zip(skipped, pending, strict=True)
    )
    rows = select(
        literal(campaign.id, type_=Integer),
        Customer.id,
        literal(channel.value, type_=String),
        status,
        literal(0, type_=Integer),
        error,
        reason,
        stamp,
        stamp,
        variant if variant is not None else literal(None, type_=Integer),
    ).where(recipients(channel))
    columns = [
        "campaign_id",
        "customer_id",
        "channel",
        "status",
        "attempts",
        "error",
        "skip_reason",
        "created_at",
        "updated_at",
        "variant_id",
    ]
    serialise_freezes(session, channel)
    stmt = insert_ignore(session, Delivery.__table__).from_select(columns, rows)
    return session.execute(stmt).rowcount or 0


def _counts_by_channel(session: Session, campaign_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Delivery.channel, func.count())
        .where(Delivery.campaign_id == campaign_id)
        .group_by(Delivery.channel)
    ).all()
    return {channel: n for channel, n in rows}


def _has_remaining(session: Session, campaign_id: int) -> bool:
    return (
        session.execute(
            select(Delivery.id)
            .where(Delivery.campaign_id == campaign_id, Delivery.status.in_(_REMAINING))
            .limit(1)
        ).first()
        is not None
    )


def _held_back(session: Session, campaign_id: int) -> int:
    return session.execute(
        select(func.count()).where(
            Delivery.campaign_id == campaign_id,
            Delivery.skip_reason == SkipReason.FREQUENCY_CAP.value,
        )
    ).scalar_one()


def _held_out(session: Session, campaign_id: int) -> int:
    """Held-out messages (one per customer and channel) of the holdout group."""
    return session.execute(
        select(func.count()).where(
            Delivery.campaign_id == campaign_id,
            Delivery.skip_reason == SkipReason.HOLDOUT.value,
        )
    ).scalar_one()


def start_send(session: Session, campaign_id: int) -> StartResult:
    """Freeze the audience, issue its coupons and queue the batches; a second call creates nothing.

    The first statement flips draft/scheduled -> sending, which takes the row (PostgreSQL) or
    database (SQLite) write lock; a concurrent start waits, then finds nothing to flip.
    Commits.
    """

    def audience(channel: Channel) -> ColumnElement[bool]:
        assert campaign is not None
        return audience_clause(session, Audience.from_json(campaign.audience_json), channel)

    campaign = session.get(Campaign, campaign_id)
    _refuse_automation_message(campaign)
    percent = campaign.holdout_percent if campaign is not None else 0
    return _start(session, campaign_id, campaign, audience, holdout_percent=percent)


def _refuse_automation_message(campaign: Campaign | None) -> None:
    """An automation's message and batches go out only through the automation (start_batch)."""
    if campaign is not None and campaign.automation_id is not None:
        raise SendError(
            "This is an automation's message: the automation sends it to whoever is due. "
            "Switch it on or off on the Automations page."
        )


def start_batch(session: Session, campaign_id: int, customer_ids: Select) -> StartResult:
    """Start a campaign to exactly `customer_ids` (a SELECT of Customer ids; an automation's batch)
    instead of its segment audience: the same freeze, consent and suppression check, coupons and
    queueing as `start_send`, and a second call creates nothing either; never a holdout. Commits."""

    def chosen(channel: Channel) -> ColumnElement[bool]:
        return and_(reachable_clause(channel), Customer.id.in_(customer_ids))

    return _start(session, campaign_id, session.get(Campaign, campaign_id), chosen)


def _start(
    session: Session,
    campaign_id: int,
    campaign: Campaign | None,
    recipients: Recipients,
    holdout_percent: int = 0,
) -> StartResult:
    if campaign is None:
        raise SendError(f"Campaign #{campaign_id} does not exist.")
    startable = (CampaignStatus.DRAFT.value, CampaignStatus.SCHEDULED.value)
    if campaign.status not in startable:
        return _existing(session, campaign)
    _check_content(campaign)
    now = utcnow()
    try:
        variant_ids = ab_tests.prepare_test(session, campaign, _check_content)
    except ab_tests.AbTestError as exc:
        session.rollback()
        raise SendError(str(exc)) from None
    testing = {"ab_phase": AbPhase.TESTING.value} if variant_ids else {}
    flipped = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status.in_(startable))
        .values(
            status=CampaignStatus.SENDING.value,
            sent_at=now,
            updated_at=now,
            failure_reason="",
            failure_kind="",
            **testing,
        )
    ).rowcount
    if not flipped:
        session.rollback()
        session.refresh(campaign)
        return _existing(session, campaign)
    channels = channels_of(campaign.channel)
    for i, channel in enumerate(channels):
        if variant_ids:  # the A/B test's share only; the rest waits for the winner
            who, variant = ab_tests.test_draw(
                session, campaign, variant_ids, channel, channels[:i], recipients
            )
            _freeze(
                session, campaign, channel, now, lambda ch, w=who: and_(recipients(ch), w), variant
            )
        else:
            _freeze(session, campaign, channel, now, recipients)
        holdout.hold_out(session, campaign_id, channel, now, holdout_percent)
    if campaign.has_qr_code:
        issue_coupons(session, campaign_id)
    counts = _counts_by_channel(session, campaign_id)
    if not variant_ids and not _has_remaining(session, campaign_id):  # nobody, or all held back
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
    held = _held_back(session, campaign_id)
    held_out = _held_out(session, campaign_id)
    total = sum(counts.values()) - held - held_out
    if variant_ids:
        message = (
            f"Sending the A/B test ({len(variant_ids)} variants) to {total:,} recipients; "
            f"the rest get the winner after {campaign.ab_window_hours} h."
        )
    elif total:
        message = f"Sending to {total:,} recipients."
    else:
        message = "Nobody in this audience can be reached; nothing was sent."
    if held:
        message += f" {held:,} held back by the frequency cap (Settings)."
    if held_out:
        message += f" {held_out:,} held out (the holdout group: never messaged, compared later)."
    return StartResult(campaign_id, campaign.status, True, counts, message)


def send_winner(session: Session, campaign_id: int, variant_id: int, why: str) -> int | None:
    """An A/B test's decision: the rest of the audience gets variant `variant_id`. Commits.

    The claim is a conditional UPDATE (testing -> decided) in the same transaction as the
    second freeze, so two deciders at once, or a decider and the owner, freeze the rest exactly
    once, and a crash before the commit leaves the test undecided for the next tick. The freeze
    inserts only missing rows (the test share keeps its deliveries, its variants and its
    holdout) and applies the frequency cap as of now. Returns how many deliveries it added, or
    None when the test was already decided (or the campaign is no longer sending or paused).
    """
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise SendError(f"Campaign #{campaign_id} does not exist.")
    now = utcnow()
    claimed = session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.ab_phase == AbPhase.TESTING.value,
            Campaign.status.in_(statuses.values(statuses.IN_PROGRESS)),
        )
        .values(
            ab_phase=AbPhase.DECIDED.value,
            ab_winner_variant_id=variant_id,
            ab_decided_at=now,
            updated_at=now,
        )
    ).rowcount
    if not claimed:
        session.rollback()
        return None
    session.refresh(campaign)

    def audience(channel: Channel) -> ColumnElement[bool]:
        return audience_clause(session, Audience.from_json(campaign.audience_json), channel)

    winner = literal(variant_id, type_=Integer)
    channels = channels_of(campaign.channel)
    before = sum(_counts_by_channel(session, campaign_id).values())
    for channel in channels:
        _freeze(session, campaign, channel, now, audience, winner)
        holdout.hold_out(session, campaign_id, channel, now, campaign.holdout_percent)
    added = sum(_counts_by_channel(session, campaign_id).values()) - before
    if campaign.has_qr_code:
        issue_coupons(session, campaign_id)
    audit.record(
        session, "campaign.ab_winner", "campaign", campaign_id, f"{why} {added:,} more messages."
    )
    session.commit()
    session.refresh(campaign)
    if campaign.status == CampaignStatus.SENDING:
        for channel in channels:
            enqueue_pending(session, campaign_id, channel.value)
        finish_if_done(session, campaign_id)  # nobody left to send to
    live.forget_progress(campaign_id)
    return added


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
    _refuse_automation_message(campaign)
    if campaign.status not in statuses.EDITABLE:
        raise SendError(f"A {campaign.status} campaign cannot be scheduled.")
    when = as_utc(when)
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
    jobs = queueing.enqueue_deliveries(campaign_id, channel, due)
    for minute, items in later.items():
        jobs += queueing.enqueue_deliveries(
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
    live.forget_progress(campaign_id)
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
    live.forget_progress(campaign_id)
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
            Campaign.status.in_(statuses.sources_of(CampaignStatus.CANCELLED)),
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
    live.forget_progress(campaign_id)
    return cancelled


def retry_failed(session: Session, campaign_id: int) -> int:
    """Put failed deliveries back in line ("retry failed only"); returns how many. Commits.

    They keep their provider group (send_key), so a group whose outcome was unknown is
    replayed under the same idempotency key; consent and suppression are checked again.
    """
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise SendError(f"Campaign #{campaign_id} does not exist.")
    if campaign.status not in statuses.RETRYABLE:
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
    get_redis().delete(live.key(campaign_id, "counts"))
    if count:
        for channel in channels_of(campaign.channel):
            enqueue_pending(session, campaign_id, channel.value)
    live.forget_progress(campaign_id)
    return count


def _fail(session: Session, campaign_id: int, reason: str, kind: FailureKind) -> None:
    """End a campaign as failed and cancel what has not gone out. Commits."""
    now = utcnow()
    session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.status.in_(statuses.sources_of(CampaignStatus.CANCELLED)),
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
    live.forget_progress(campaign_id)


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
    accepted = sum(counts.get(s, 0) for s in statuses.REACHED)
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
    if _has_remaining(session, campaign_id):
        return None
    failed, attempted = _failed_and_attempted(session, campaign_id)
    reason = _failure_reason(failed, attempted, sending_limits(session).failure_threshold_pct)
    now = utcnow()
    status = CampaignStatus.FAILED if reason else CampaignStatus.SENT
    done = session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.status == CampaignStatus.SENDING,
            Campaign.ab_phase != AbPhase.TESTING.value,  # the rest still waits for the winner
        )
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
        live.forget_progress(campaign_id)
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
