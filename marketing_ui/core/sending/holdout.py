"""The holdout group: a random share of a campaign's audience, drawn at the freeze, never messaged.

Drawn among the recipients who would be messaged (consent, suppression and the frequency cap
already decided: a customer at the cap stays skipped frequency_cap and is not drawn). A drawn
recipient keeps its frozen delivery row, skipped with skip_reason = holdout, so the send
pipeline, the progress page and the outbox need nothing new, and analytics finds both groups
in `delivery` (core/analytics/lift.py compares their visits and revenue afterwards).

The draw is made by the database (`db.random_fraction`, one number per row in an UPDATE's
WHERE), never by Python over customers. It is per customer, not per message: on a campaign
sent by email and SMS, the second channel follows the first (held out there -> held out here;
messaged there -> messaged here), and only a customer the first channel did not message
(not reachable there, or at its cap) is drawn afresh. Automation batches and test sends never
hold out (commands.start_batch passes 0; trial sends freeze nothing).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, and_, exists, func, literal, or_, select, update
from sqlalchemy.orm import aliased
from sqlmodel import Session

from marketing_ui.core.db import random_fraction
from marketing_ui.core.models import Channel, Delivery, DeliveryStatus, SkipReason

PERCENT_RANGE = (0, 50)  # the owner's choice, in whole percent
HELD_OUT = "held out: in this campaign's holdout group"  # the skipped delivery's error text


def parse_percent(raw: object) -> int:
    """The holdout share as a whole percent; ValueError naming the field when it is not one."""
    low, high = PERCENT_RANGE
    text = "" if raw is None else str(raw).strip().removesuffix("%").strip()
    if text == "":
        return 0
    try:
        value = int(text)
    except ValueError:
        raise ValueError(
            f"Hold out: enter a whole number of percent from {low} to {high}."
        ) from None
    if not low <= value <= high:
        raise ValueError(f"Hold out: must be from {low} to {high} percent (got {value}).")
    return value


def hold_out(
    session: Session, campaign_id: int, channel: Channel, frozen_at: datetime, percent: int
) -> int:
    """Turn a random `percent` of the deliveries this freeze just made pending into holdouts.

    Only rows created by this freeze (created_at = its timestamp) are drawn from, so a second
    freeze of the same channel, which inserts nothing, draws nothing either. Adds to the
    caller's transaction; returns how many were held out on this channel.
    """
    if percent <= 0:
        return 0
    other = aliased(Delivery)
    same_customer = and_(
        other.campaign_id == campaign_id,
        other.customer_id == Delivery.customer_id,
        other.channel != channel.value,
    )
    held_elsewhere = exists().where(same_customer, other.skip_reason == SkipReason.HOLDOUT.value)
    messaged_elsewhere = exists().where(same_customer, other.status != DeliveryStatus.SKIPPED.value)
    drawn = random_fraction(session) < percent / 100.0
    stmt = (
        update(Delivery)
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.channel == channel.value,
            Delivery.status == DeliveryStatus.PENDING.value,
            Delivery.created_at == literal(frozen_at, type_=DateTime(timezone=True)),
            or_(held_elsewhere, and_(~messaged_elsewhere, drawn)),
        )
        .values(
            status=DeliveryStatus.SKIPPED.value,
            skip_reason=SkipReason.HOLDOUT.value,
            error=HELD_OUT,
        )
        .execution_options(synchronize_session=False)
    )
    return session.execute(stmt).rowcount or 0


def held_out_count(session: Session, campaign_id: int) -> int:
    """Customers in a campaign's holdout group (one per customer, whatever the channels)."""
    return session.execute(
        select(func.count(func.distinct(Delivery.customer_id))).where(
            Delivery.campaign_id == campaign_id,
            Delivery.skip_reason == SkipReason.HOLDOUT.value,
        )
    ).scalar_one()


def expected_held_out(recipients: int, percent: int) -> int:
    """How many of `recipients` a holdout of `percent` is expected to draw (the send page says "about")."""
    return round(recipients * percent / 100)
