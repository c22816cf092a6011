"""The record stage: each delivery's outcome in the DB (status, provider id, attempts, error),
Event rows, suppressions, retries with backoff, and the live Redis counters.

Every write is conditional on the delivery still being ours (in flight or pending), so a
late duplicate job cannot overwrite a newer outcome.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, or_, select, update
from sqlmodel import Session

from marketing_ui.core.db import insert_ignore
from marketing_ui.core.models import (
    Channel,
    Customer,
    Delivery,
    DeliveryStatus,
    Event,
    EventType,
    Suppression,
    SuppressionReason,
    WaitReason,
)
from marketing_ui.core.sending.claim import SKIP_REASONS, Claimed
from marketing_ui.core.sending.live import note_errors, note_outcomes
from marketing_ui.core.sending.providers import SendResult

BACKOFF_BASE_S = 2.0
BACKOFF_CAP_S = 600.0
UNKNOWN_RETRY_CAP_S = 60.0  # an unanswered request is re-checked at least once a minute
# Resend keeps an idempotency key for 24 h: past this, a replay could send again, so stop.
UNKNOWN_LIMIT = timedelta(hours=23)
_OURS = (DeliveryStatus.INFLIGHT.value, DeliveryStatus.PENDING.value)


@dataclass(frozen=True)
class Retry:
    """Deliveries to try again at one moment (one RQ job, scheduled with enqueue_at)."""

    ids: list[int]
    at: datetime


@dataclass(frozen=True)
class Recorded:
    retries: list[Retry]
    totals: dict[str, int]  # campaign-wide live counters after this batch


def backoff_s(attempts: int, retry_after_s: float | None = None) -> float:
    """Exponential backoff with jitter, never sooner than the provider's Retry-After."""
    delay = min(BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), BACKOFF_CAP_S)
    delay *= random.uniform(0.5, 1.0)
    return max(delay, retry_after_s or 0.0)


def unknown_backoff_s(unknown_for_s: float) -> float:
    """Re-check an unknown outcome soon, then about as long as it has been unknown, at most 60 s."""
    delay = min(max(BACKOFF_BASE_S, unknown_for_s), UNKNOWN_RETRY_CAP_S)
    return delay * random.uniform(0.5, 1.0)


def _wait_reason(result: SendResult) -> WaitReason:
    if result.unanswered:
        return WaitReason.UNKNOWN_OUTCOME
    if result.rate_limited:
        return WaitReason.RATE_LIMITED
    return WaitReason.RETRY_AFTER_ERROR


def _update(table):  # noqa: ANN001, ANN202 - executemany UPDATE by id, only while still ours
    ours = or_(*(table.c.status == status for status in _OURS))  # no IN: executemany
    return update(table).where(table.c.id == bindparam("did"), ours)


def record(
    session: Session,
    campaign_id: int,
    channel: str,
    outcomes: Sequence[tuple[Claimed, SendResult]],
    max_attempts: int,
    now: datetime,
    segments: Mapping[int, int] | None = None,
) -> Recorded:
    """Write the outcomes of one provider call (or render failures). Commits.

    `segments`: each SMS delivery's segment count, kept on the ones the provider accepted
    (what it bills, and what a campaign's message cost counts).
    """
    table = Delivery.__table__
    sent, failed, pending, events = [], [], [], []
    suppress_customers: list[tuple[int, str]] = []
    retry_at: dict[datetime, list[int]] = {}
    errors: list[str] = []
    # One delay per call: a provider group must come back as one job, whole.
    answered = [(c, r) for c, r in outcomes if not r.ok and r.transient and not r.unanswered]
    delay = backoff_s(
        max((c.attempts for c, _ in answered), default=1),
        max((r.retry_after_s or 0.0 for _, r in answered), default=0.0),
    )
    if any(r.unanswered for _, r in outcomes):
        unknown_for = max(
            ((now - c.unknown_since).total_seconds() for c, _ in outcomes if c.unknown_since),
            default=0.0,
        )
        delay = max(delay if answered else 0.0, unknown_backoff_s(unknown_for))
    retry_time = (now + timedelta(seconds=delay)).replace(microsecond=0) + timedelta(seconds=1)
    for claimed, result in outcomes:
        if result.ok:
            seg = segments.get(claimed.id) if segments else None
            sent.append({"did": claimed.id, "pid": result.provider_id, "now": now, "seg": seg})
            events.append(_event(campaign_id, claimed, channel, EventType.SENT, "", now))
            continue
        errors.append(result.error)
        # An answer still missing from an earlier try stays unknown until a final answer.
        since = claimed.unknown_since or (now if result.unanswered else None)
        expired = since is not None and now - since >= UNKNOWN_LIMIT
        retry = result.transient and (result.unanswered or claimed.attempts < max_attempts)
        if retry and not expired:
            retry_at.setdefault(retry_time, []).append(claimed.id)
            pending.append(
                {
                    "did": claimed.id,
                    "err": result.error,
                    "at": retry_time,
                    "now": now,
                    "why": _wait_reason(result).value,
                    "since": since,
                    # Only an answer from the provider uses up an attempt.
                    "back": 1 if result.unanswered else 0,
                }
            )
            continue
        error = result.error
        if expired:
            hours = UNKNOWN_LIMIT.total_seconds() / 3600
            error = f"outcome unknown for {hours:g} h, given up: {error}"[:300]
        elif result.transient:
            error = f"gave up after {claimed.attempts} attempts: {error}"[:300]
        failed.append({"did": claimed.id, "err": error, "now": now})
        events.append(_event(campaign_id, claimed, channel, EventType.FAILED, error, now))
        if result.suppress:
            suppress_customers.append((claimed.customer_id, error))
    done = {"lease_until": None, "lease_holder": None, "wait_reason": "", "unknown_since": None}
    if sent:
        session.execute(
            _update(table).values(
                status=DeliveryStatus.SENT.value,
                provider_message_id=bindparam("pid"),
                sent_at=bindparam("now"),
                updated_at=bindparam("now"),
                segments=bindparam("seg"),
                error="",
                **done,
            ),
            sent,
        )
    if failed:
        session.execute(
            _update(table).values(
                status=DeliveryStatus.FAILED.value,
                error=bindparam("err"),
                updated_at=bindparam("now"),
                **done,
            ),
            failed,
        )
    if pending:
        session.execute(
            _update(table).values(
                status=DeliveryStatus.PENDING.value,
                error=bindparam("err"),
                next_attempt_at=bindparam("at"),
                updated_at=bindparam("now"),
                lease_until=None,
                lease_holder=None,
                wait_reason=bindparam("why"),
                unknown_since=bindparam("since"),
                attempts=table.c.attempts - bindparam("back"),
            ),
            pending,
        )
    if events:
        session.execute(insert(Event.__table__), events)
    if suppress_customers:
        _suppress(session, channel, suppress_customers, now)
    session.commit()
    totals = note_outcomes(campaign_id, channel, {"sent": len(sent), "failed": len(failed)})
    note_errors(campaign_id, channel, errors)
    return Recorded([Retry(ids, at) for at, ids in sorted(retry_at.items())], totals)


def record_skipped(
    session: Session, channel: str, skipped: Sequence[tuple[Claimed, str]], now: datetime
) -> None:
    """Consent withdrawn or address suppressed since the freeze: never sent, reason kept. Commits."""
    if not skipped:
        return
    session.execute(
        _update(Delivery.__table__).values(
            status=DeliveryStatus.SKIPPED.value,
            error=bindparam("err"),
            skip_reason=bindparam("why"),
            updated_at=bindparam("now"),
            lease_until=None,
            lease_holder=None,
            wait_reason="",
            unknown_since=None,
        ),
        [
            {"did": c.id, "err": reason, "why": SKIP_REASONS.get(reason, ""), "now": now}
            for c, reason in skipped
        ],
    )
    session.commit()


def _event(
    campaign_id: int, claimed: Claimed, channel: str, kind: EventType, detail: str, now: datetime
) -> dict[str, object]:
    return {
        "campaign_id": campaign_id,
        "delivery_id": claimed.id,
        "customer_id": claimed.customer_id,
        "channel": channel,
        "type": kind.value,
        "detail": detail[:300],
        "created_at": now,
    }


def _suppress(
    session: Session, channel: str, customers: list[tuple[int, str]], now: datetime
) -> None:
    """Hard bounce / invalid number: the address (by blind index) is never messaged again."""
    column = Customer.email_bidx if channel == Channel.EMAIL else Customer.phone_bidx
    reasons = dict(customers)
    rows = session.execute(
        select(Customer.id, column).where(Customer.id.in_(list(reasons)), column.is_not(None))
    ).all()
    values = [
        {
            "channel": channel,
            "value_bidx": bidx,
            "reason": SuppressionReason.INVALID.value,
            "detail": reasons[cid][:255],
            "created_at": now,
        }
        for cid, bidx in rows
    ]
    if not values:
        return
    session.execute(insert_ignore(session, Suppression.__table__), values)
