"""The scan stage: claim deliveries atomically, release them, re-check consent at send time.

Claiming is one `UPDATE ... WHERE status='pending' ... RETURNING`: a re-delivered job, a
duplicate job or a second worker claims nothing that is already taken or done. A claim is a
lease: past `lease_until` the sweeper takes an in-flight delivery back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select, update
from sqlmodel import Session

from marketing_ui.core.audience import reachable_clause
from marketing_ui.core.clock import as_utc
from marketing_ui.core.config import get_settings
from marketing_ui.core.models import (
    Campaign,
    CampaignStatus,
    Channel,
    Customer,
    Delivery,
    DeliveryStatus,
    SkipReason,
    WaitReason,
)
from marketing_ui.core.sending import heartbeat


@dataclass(frozen=True)
class Claimed:
    """A delivery this job now holds."""

    id: int
    customer_id: int
    attempts: int  # provider answers so far, plus this try
    send_key: str | None
    error: str  # the previous attempt's outcome, if any
    created_at: datetime
    wait_reason: str = ""  # why it waited before this claim (a WaitReason, or "")
    unknown_since: datetime | None = None  # a provider answer still unknown since then


def claim(
    session: Session,
    campaign_id: int,
    channel: str,
    ids: Sequence[int],
    now: datetime,
    whole_groups: bool = False,
) -> list[Claimed]:
    """Take the listed deliveries that are pending and due while the campaign is sending. Commits.

    `whole_groups` also takes every pending member of the provider groups the ids belong to,
    so a group is always replayed whole under its idempotency key.
    """
    table = Delivery.__table__
    wanted = table.c.id.in_(list(ids))
    if whole_groups:
        other = table.alias("grp")
        keys = select(other.c.send_key).where(
            other.c.id.in_(list(ids)), other.c.send_key.is_not(None)
        )
        wanted = or_(wanted, table.c.send_key.in_(keys))
    condition = and_(
        table.c.campaign_id == campaign_id,
        table.c.channel == channel,
        table.c.status == DeliveryStatus.PENDING.value,
        or_(table.c.next_attempt_at.is_(None), table.c.next_attempt_at <= now),
        wanted,
        exists().where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.SENDING),
    )
    if session.get_bind().dialect.name == "postgresql":
        # Lock in id order first: two claims of one group cannot each take a part of it.
        locked = (
            session.execute(
                select(table.c.id).where(condition).order_by(table.c.id).with_for_update()
            )
            .scalars()
            .all()
        )
        if not locked:
            session.commit()
            return []
        condition = and_(table.c.id.in_(locked), table.c.status == DeliveryStatus.PENDING.value)
    rows = session.execute(
        update(table)
        .where(condition)
        .values(
            status=DeliveryStatus.INFLIGHT.value,
            # Longer than any batch can take (provider timeouts are 10 s); see Settings.
            lease_until=now + timedelta(seconds=get_settings().send_lease_s),
            lease_holder=heartbeat.current_id(),  # a dead holder is taken over in seconds
            attempts=table.c.attempts + 1,  # given back when no answer comes (record, sweeper)
            updated_at=now,
        )
        .returning(
            table.c.id,
            table.c.customer_id,
            table.c.attempts,
            table.c.send_key,
            table.c.error,
            table.c.created_at,
            table.c.wait_reason,
            table.c.unknown_since,
        )
    ).all()
    session.commit()
    return sorted(
        (
            Claimed(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4] or "",
                as_utc(r[5]),
                r[6] or "",
                as_utc(r[7]) if r[7] is not None else None,
            )
            for r in rows
        ),
        key=lambda c: c.id,
    )


def release(
    session: Session,
    ids: Sequence[int],
    now: datetime,
    next_attempt_at: datetime | None = None,
    error: str | None = None,
    wait_reason: WaitReason = WaitReason.RATE_LIMITED,
) -> int:
    """Give deliveries back untried (limiter busy, quiet hours): the attempt does not count."""
    if not ids:
        return 0
    values: dict[str, object] = {
        "status": DeliveryStatus.PENDING.value,
        "lease_until": None,
        "lease_holder": None,
        "attempts": Delivery.attempts - 1,
        "next_attempt_at": next_attempt_at,
        "wait_reason": wait_reason.value,
        "updated_at": now,
    }
    if error is not None:
        values["error"] = error
    count = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(list(ids)), Delivery.status == DeliveryStatus.INFLIGHT)
        .values(**values)
    ).rowcount
    session.commit()
    return count or 0


def set_send_key(session: Session, ids: Sequence[int], send_key: str) -> None:
    """Persist the provider group before calling the provider, so a crash replays the same group."""
    session.execute(update(Delivery).where(Delivery.id.in_(list(ids))).values(send_key=send_key))
    session.commit()


# Why unreachable() holds a recipient back, in words, and as the skip reason counted by reason
# ("" for the rest: no address on file any more, customer deleted).
SKIP_REASONS = {"unsubscribed": SkipReason.CONSENT, "suppressed": SkipReason.SUPPRESSED}


def unreachable(session: Session, channel: str, customer_ids: Sequence[int]) -> dict[int, str]:
    """customer id -> why they must not get this message now (consent, suppression, deleted)."""
    if not customer_ids:
        return {}
    ch = Channel(channel)
    consent = Customer.email_consent if ch == Channel.EMAIL else Customer.sms_consent
    address = Customer.email_bidx if ch == Channel.EMAIL else Customer.phone_bidx
    rows = session.execute(
        select(Customer.id, consent, address.is_not(None), reachable_clause(ch)).where(
            Customer.id.in_(list(customer_ids))
        )
    ).all()
    reasons = {cid: "customer deleted" for cid in customer_ids}
    for cid, has_consent, has_address, ok in rows:
        if ok:
            reasons.pop(cid, None)
        elif not has_consent:
            reasons[cid] = "unsubscribed"
        elif not has_address:
            reasons[cid] = "no address on file"
        else:
            reasons[cid] = "suppressed"
    return reasons
