"""The sweeper: what makes a crash, a SIGKILL or a Redis restart lose nothing.

1. In-flight deliveries past their lease (the worker died mid-batch) go back to pending and
   are queued again. Email replays its provider group under the same idempotency key; SMS
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

from sqlalchemy import or_, select, update
from sqlmodel import Session

from marketing_ui.core.audience import channels_of
from marketing_ui.core.models import Campaign, CampaignStatus, Delivery, DeliveryStatus, utcnow
from marketing_ui.core.sending import enqueue_pending, finish_if_done, recently_active
from workers import dispatch

log = logging.getLogger(__name__)
LEASE_EXPIRED = "lease expired: outcome unknown"
_RECLAIM_CHUNK = 5000


@dataclass
class SweepReport:
    reclaimed: int = 0
    requeued_campaigns: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)


def reclaim_expired(session: Session, now: datetime) -> int:
    """Expired leases -> pending, queued again in whole provider groups. Commits."""
    total = 0
    while True:
        rows = session.execute(
            select(Delivery.id, Delivery.campaign_id, Delivery.channel, Delivery.send_key)
            .where(Delivery.status == DeliveryStatus.INFLIGHT, Delivery.lease_until < now)
            .order_by(Delivery.id)
            .limit(_RECLAIM_CHUNK)
        ).all()
        if not rows:
            return total
        session.execute(
            update(Delivery)
            .where(
                Delivery.id.in_([r[0] for r in rows]),
                Delivery.status == DeliveryStatus.INFLIGHT,
                Delivery.lease_until < now,
            )
            .values(
                status=DeliveryStatus.PENDING.value,
                lease_until=None,
                next_attempt_at=None,
                error=LEASE_EXPIRED,
                updated_at=now,
            )
        )
        session.commit()
        by_target: dict[tuple[int, str], list[tuple[int, str | None]]] = {}
        for delivery_id, campaign_id, channel, send_key in rows:
            by_target.setdefault((campaign_id, channel), []).append((delivery_id, send_key))
        for (campaign_id, channel), items in by_target.items():
            dispatch.enqueue_deliveries(campaign_id, channel, items)
        total += len(rows)
        log.info("sweeper reclaimed %d deliveries past their lease", len(rows))
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
    report = SweepReport(reclaimed=reclaim_expired(session, now))
    sending = session.execute(
        select(Campaign.id, Campaign.channel).where(Campaign.status == CampaignStatus.SENDING)
    ).all()
    for campaign_id, campaign_channel in sending:
        for channel in channels_of(campaign_channel):
            if (
                _has_due_pending(session, campaign_id, channel.value, now)
                and not recently_active(campaign_id, channel.value)
                and not dispatch.has_waiting_jobs(campaign_id, channel.value)
            ):
                enqueue_pending(session, campaign_id, channel.value)
                report.requeued_campaigns.append(campaign_id)
                log.warning(
                    "campaign %d had pending %s deliveries and no jobs", campaign_id, channel
                )
        if finish_if_done(session, campaign_id):
            report.finished.append(campaign_id)
    return report
