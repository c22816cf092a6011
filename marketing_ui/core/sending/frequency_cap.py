"""The frequency cap: no customer gets more than K marketing messages per channel in a window.

Decided once, when a campaign (or an automation batch, which is a campaign) freezes its
audience: a recipient who already has K messages on that channel in the window — accepted by
the provider, or still pending / in flight, i.e. about to go — is frozen as a skipped
delivery with skip_reason = frequency_cap, so it is counted and shown, never silently lost.
Every Delivery row is a marketing message; transactional mail (login links, test sends)
writes none, so it neither counts nor is capped. See docs/send_pipeline.md ("Frequency cap").
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Integer, false, func, literal, select
from sqlmodel import Session

from marketing_ui.core import statuses
from marketing_ui.core.app_settings import FrequencyCap, frequency_cap
from marketing_ui.core.audience import Audience, audience_clause, channels_of
from marketing_ui.core.db import take_turns
from marketing_ui.core.models import Channel, Customer, Delivery

# What counts against the cap: messages the provider took, and those about to be sent.
COUNTED = statuses.values(statuses.ACCEPTED + statuses.UNSETTLED)
HELD_BACK = "held back by the frequency cap"  # the skipped delivery's human-readable error


def window_start(cap: FrequencyCap, now: datetime) -> datetime:
    return now - timedelta(days=cap.window_days)


def at_cap_clause(
    customer_id: ColumnElement, channel: Channel, limit: int, since: datetime, campaign_id: int
) -> ColumnElement[bool]:
    """True for a customer who already has `limit` counted messages on `channel` since `since`
    (other campaigns only). One indexed count per customer (ix_delivery_customer)."""
    if limit <= 0:
        return false()  # no cap on this channel
    earlier = (
        select(func.count())
        .select_from(Delivery)
        .where(
            Delivery.customer_id == customer_id,
            Delivery.channel == channel.value,
            Delivery.status.in_(COUNTED),
            Delivery.campaign_id != literal(campaign_id, type_=Integer),
            func.coalesce(Delivery.sent_at, Delivery.created_at) >= since,
        )
        .scalar_subquery()
    )
    return earlier >= limit


def serialise_freezes(session: Session, channel: Channel) -> None:
    """Freezes of one channel take turns until commit, so two campaigns started at the same
    moment cannot both miss each other's pending messages.

    PostgreSQL: a transaction-scoped advisory lock (released at commit or rollback); the
    INSERT … SELECT that follows runs with a fresh snapshot and sees the other's rows.
    SQLite: start_send already holds the database write lock from its first UPDATE.
    """
    take_turns(session, f"freeze:{channel.value}")


def held_back_counts(
    session: Session, audience: Audience, campaign_channel: str, now: datetime
) -> dict[str, int]:
    """Per channel, how many of the audience the cap would hold back if it were sent now."""
    cap = frequency_cap(session)
    since = window_start(cap, now)
    out = {}
    for ch in channels_of(campaign_channel):
        limit = cap.limit(ch.value)
        if limit <= 0:
            out[ch.value] = 0
            continue
        out[ch.value] = session.execute(
            select(func.count(Customer.id)).where(
                audience_clause(session, audience, ch),
                at_cap_clause(Customer.id, ch, limit, since, campaign_id=0),
            )
        ).scalar_one()
    return out
