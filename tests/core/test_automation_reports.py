"""Automation reports: per week, only the automation's batches (never its template) count."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time, timedelta

from sqlmodel import Session

from marketing_ui.core.automations import config, reports
from marketing_ui.core.clock import utcnow
from marketing_ui.core.models import (
    Campaign,
    Coupon,
    CouponStatus,
    Customer,
    Delivery,
    DeliveryStatus,
    Event,
    EventType,
    Visit,
    VisitSource,
)


def _batch(session: Session, automation_id: int, sent_at, outcomes: list[str]) -> Campaign:
    """A sent batch; each outcome is a delivery: "sent", "opened", "clicked", "redeemed",
    "visit" (came back within the week), "late" (came back after it) or "failed"."""
    batch = Campaign(name="batch", automation_id=automation_id, status="sent", sent_at=sent_at)
    session.add(batch)
    session.flush()
    for i, outcome in enumerate(outcomes):
        customer = Customer(first_name=f"C{i}")
        session.add(customer)
        session.flush()
        status = DeliveryStatus.FAILED if outcome == "failed" else DeliveryStatus.SENT
        delivery = Delivery(
            campaign_id=batch.id,
            customer_id=customer.id,
            channel="email",
            status=status,
            sent_at=sent_at,
        )
        session.add(delivery)
        session.flush()
        if outcome in ("opened", "clicked"):
            for kind in (EventType.OPENED, EventType.OPENED):  # two opens: one message
                session.add(Event(campaign_id=batch.id, delivery_id=delivery.id, type=kind))
        if outcome == "clicked":
            session.add(Event(campaign_id=batch.id, delivery_id=delivery.id, type="clicked"))
        if outcome == "redeemed":
            session.add(
                Coupon(
                    campaign_id=batch.id,
                    delivery_id=delivery.id,
                    customer_id=customer.id,
                    token_hash=f"t{batch.id}-{i}",
                    short_code_hash=f"s{batch.id}-{i}",
                    secret_enc="x",
                    status=CouponStatus.REDEEMED,
                )
            )
        if outcome in ("visit", "late"):
            at = sent_at + (timedelta(days=2) if outcome == "visit" else timedelta(days=9))
            session.add(Visit(customer_id=customer.id, at=at, source=VisitSource.CHECK_IN))
            if outcome == "visit":  # a second visit the same week counts once
                session.add(
                    Visit(customer_id=customer.id, at=at + timedelta(hours=5), source="check_in")
                )
    session.commit()
    return batch


def test_weekly_counts_batches_only(session: Session) -> None:
    config.ensure_defaults(session)
    welcome = config.get(session, "welcome")
    birthday = config.get(session, "birthday")
    now = utcnow()
    week_start = datetime.combine(reports.week_of(now), time(), tzinfo=UTC)
    this_week = week_start + (now - week_start) / 2  # never across a week boundary
    _batch(
        session,
        welcome.id,
        this_week,
        ["sent", "opened", "clicked", "redeemed", "visit", "late", "failed"],
    )
    _batch(session, welcome.id, now - timedelta(weeks=2), ["opened", "visit"])
    _batch(session, birthday.id, this_week, ["opened"])
    # The template itself never counts, even if something was recorded against it.
    session.add(
        Delivery(
            campaign_id=welcome.template_campaign_id,
            customer_id=1,
            channel="email",
            status=DeliveryStatus.SENT,
            sent_at=now,
        )
    )
    session.commit()

    rows = reports.weekly(session, welcome.id, weeks=4)
    assert len(rows) == 4 and rows[-1].week == reports.week_of(now)
    assert _without_money(rows[-1].counts) == reports.Counts(
        sent=6, opened=2, clicked=1, redeemed=1, visits=1
    )
    two_weeks_ago = {r.week: r.counts for r in rows}[reports.week_of(now - timedelta(weeks=2))]
    assert _without_money(two_weeks_ago) == reports.Counts(sent=2, opened=1, visits=1)

    last_30 = reports.recent(session, days=30)
    assert last_30[welcome.id].sent == 8 and last_30[welcome.id].visits == 2
    assert _without_money(last_30[birthday.id]) == reports.Counts(sent=1, opened=1)
    assert reports.recent(session, days=10)[welcome.id].sent == 6

    text = reports.weekly_csv(session, rows)
    assert text.splitlines()[0] == (
        "week,sent,opened,clicked,redeemed,visits_after,revenue,revenue_per_recipient,"
        "message_cost,return"
    )
    assert ",6,2,1,1,1," in text.splitlines()[-1]


def _without_money(counts: reports.Counts) -> reports.Counts:
    """The engagement counts alone (the money side is tested in test_revenue.py)."""
    return dataclasses.replace(counts, money=reports.MoneyCounts())
