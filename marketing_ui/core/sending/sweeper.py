"""The sweeper: what makes a crash, a SIGKILL or a Redis restart lose nothing.

1. In-flight deliveries whose worker died go back to pending and are queued again: at once
   when the holder's heartbeat is gone (marketing_ui/core/sending/heartbeat.py, within about 10 s of the death),
   else when the lease expires (the fallback). Their outcome is unknown (`unknown_since`), the
   attempt is given back. Email replays its provider group under the same idempotency key; SMS
   looks the message up with `find_sent` before any resend (see send_sms.maybe_sent).
2. A sending campaign with due pending deliveries, no job for it in Redis (queued or
   scheduled) and no batch activity for 30 s lost its jobs (Redis restart, app killed between
   freeze and enqueue): its pending deliveries are queued again.
3. A sending campaign with nothing left is finished (the last job may have died before it).

Duplicate jobs are harmless: the claim UPDATE lets only one of them take a delivery.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import DateTime, and_, func, literal, or_, select, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from marketing_ui.core.audience import channels_of
from marketing_ui.core.clock import utcnow
from marketing_ui.core.models import Campaign, CampaignStatus, Delivery, DeliveryStatus, WaitReason
from marketing_ui.core.sending import heartbeat, queueing
from marketing_ui.core.sending.commands import enqueue_pending, finish_if_done
from marketing_ui.core.sending.live import recently_active

log = logging.getLogger(__name__)
WORKER_LOST = "worker lost mid-batch: outcome unknown (replayed with the same key / looked up)"
_RECLAIM_CHUNK = 5000


@dataclass
class SweepReport:
    reclaimed: int = 0
    taken_over: int = 0  # of those, held by a worker whose heartbeat is gone
    requeued_campaigns: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)


def reclaim_expired(session: Session, now: datetime) -> int:
    """Expired leases -> pending, queued again in whole provider groups. Commits."""
    return _reclaim(session, now, Delivery.lease_until < now)


def take_over_dead(session: Session, now: datetime) -> int:
    """In-flight deliveries whose holder's heartbeat is gone -> pending, queued again. Commits."""
    holders = (
        session.execute(
            select(Delivery.lease_holder)
            .where(Delivery.status == DeliveryStatus.INFLIGHT, Delivery.lease_holder.is_not(None))
            .group_by(Delivery.lease_holder)
        )
        .scalars()
        .all()
    )
    gone = heartbeat.dead(h for h in holders if h)
    if not gone:
        return 0
    return _reclaim(session, now, Delivery.lease_holder.in_(sorted(gone)))


def _reclaim(session: Session, now: datetime, lost: ColumnElement[bool]) -> int:
    total = 0
    while True:
        rows = session.execute(
            select(Delivery.id, Delivery.campaign_id, Delivery.channel, Delivery.send_key)
            .where(Delivery.status == DeliveryStatus.INFLIGHT, lost)
            .order_by(Delivery.id)
            .limit(_RECLAIM_CHUNK)
        ).all()
        if not rows:
            return total
        session.execute(
            update(Delivery)
            .where(
                and_(
                    Delivery.id.in_([r[0] for r in rows]),
                    Delivery.status == DeliveryStatus.INFLIGHT,
                    lost,
                )
            )
            .values(
                status=DeliveryStatus.PENDING.value,
                lease_until=None,
                lease_holder=None,
                next_attempt_at=None,
                attempts=Delivery.attempts - 1,  # no answer was recorded: not an attempt
                wait_reason=WaitReason.WORKER_LOST.value,
                unknown_since=func.coalesce(
                    Delivery.unknown_since, literal(now, type_=DateTime(timezone=True))
                ),
                error=WORKER_LOST,
                updated_at=now,
            )
        )
        session.commit()
        by_target: dict[tuple[int, str], list[tuple[int, str | None]]] = {}
        for delivery_id, campaign_id, channel, send_key in rows:
            by_target.setdefault((campaign_id, channel), []).append((delivery_id, send_key))
        for (campaign_id, channel), items in by_target.items():
            queueing.enqueue_deliveries(campaign_id, channel, items)
        total += len(rows)
        log.info("sweeper took back %d deliveries of a lost worker", len(rows))
        if len(rows) < _RECLAIM_CHUNK:
            return total


def _has_due_pending(session: Session, campaign_id: int, channel: str, now: datetime) -> bool:
    return (
        session.execute(
            select(Delivery.id)
            .where(
                Delivery.campaign_id == campaign_id,
                Delivery.channel == channel,
                Delivery.status == DeliveryStatus.PENDING,
                or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
            )
            .limit(1)
        ).first()
        is not None
    )


def sweep(session: Session, now: datetime | None = None) -> SweepReport:
    """One pass; the periodic scheduler runs it every few seconds on exactly one worker."""
    now = now or utcnow()
    taken_over = take_over_dead(session, now)
    report = SweepReport(
        reclaimed=taken_over + reclaim_expired(session, now), taken_over=taken_over
    )
    sending = session.execute(
        select(Campaign.id, Campaign.channel).where(Campaign.status == CampaignStatus.SENDING)
    ).all()
    for campaign_id, campaign_channel in sending:
        for channel in channels_of(campaign_channel):
            if (
                _has_due_pending(session, campaign_id, channel.value, now)
                and not recently_active(campaign_id, channel.value)
                and not queueing.has_waiting_jobs(campaign_id, channel.value)
            ):
                enqueue_pending(session, campaign_id, channel.value)
                report.requeued_campaigns.append(campaign_id)
                log.warning(
                    "campaign %d had pending %s deliveries and no jobs", campaign_id, channel
                )
        if finish_if_done(session, campaign_id):
            report.finished.append(campaign_id)
    return report
