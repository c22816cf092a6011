"""What each automation earned, per week: sent, opened, clicked, redeemed, visits after, and
the revenue, message cost and return of its batches (core/analytics/revenue.py).

Counted in SQL per batch (a Campaign with the automation's id that is not its template), then
added up per week of the batch's send date (weeks start on Monday, UTC). A visit counts once
per message when the recipient came within VISIT_WINDOW_HOURS after it was sent.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, distinct, func, literal_column, select
from sqlmodel import Session

from marketing_ui.core import statuses
from marketing_ui.core.analytics.hours import hour_sql
from marketing_ui.core.analytics.revenue import Earnings, MoneyCounts, counts_by_campaign
from marketing_ui.core.app_settings import money_settings
from marketing_ui.core.clock import as_utc, utcnow
from marketing_ui.core.models import (
    Automation,
    Campaign,
    Coupon,
    CouponStatus,
    Delivery,
    Event,
    EventType,
    Visit,
)

VISIT_WINDOW_HOURS = 7 * 24


@dataclass(frozen=True)
class Counts:
    sent: int = 0
    opened: int = 0
    clicked: int = 0
    redeemed: int = 0
    visits: int = 0
    money: MoneyCounts = MoneyCounts()

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(Counts)))


@dataclass(frozen=True)
class WeekRow:
    week: date  # the Monday the week starts on (UTC)
    counts: Counts


def _batches(session: Session, automation_id: int, since: datetime | None) -> dict[int, datetime]:
    """Batch id -> when it was sent (or created, while it has not started)."""
    template_id = session.execute(
        select(Automation.template_campaign_id).where(Automation.id == automation_id)
    ).scalar_one_or_none()
    when = func.coalesce(Campaign.sent_at, Campaign.created_at)
    query = select(Campaign.id, when).where(Campaign.automation_id == automation_id)
    if template_id is not None:
        query = query.where(Campaign.id != template_id)
    if since is not None:
        query = query.where(when >= since)
    return {int(cid): as_utc(at) for cid, at in session.execute(query)}  # type: ignore[misc]


def _per_batch(session: Session, batch_ids: list[int]) -> dict[int, Counts]:
    if not batch_ids:
        return {}
    sent = dict(
        session.execute(
            select(Delivery.campaign_id, func.count())
            .where(
                Delivery.campaign_id.in_(batch_ids),
                Delivery.status.in_(statuses.ACCEPTED),
            )
            .group_by(Delivery.campaign_id)
        ).all()
    )

    def event_count(kind: EventType) -> dict[int, int]:
        return dict(
            session.execute(
                select(Event.campaign_id, func.count(distinct(Event.delivery_id)))
                .where(Event.campaign_id.in_(batch_ids), Event.type == kind)
                .group_by(Event.campaign_id)
            ).all()
        )

    opened = event_count(EventType.OPENED)
    clicked = event_count(EventType.CLICKED)
    redeemed = dict(
        session.execute(
            select(Coupon.campaign_id, func.count())
            .where(Coupon.campaign_id.in_(batch_ids), Coupon.status == CouponStatus.REDEEMED)
            .group_by(Coupon.campaign_id)
        ).all()
    )
    dialect = session.get_bind().dialect.name
    visit_hour = literal_column(hour_sql(dialect, "visit.at"))
    sent_hour = literal_column(hour_sql(dialect, "delivery.sent_at"))
    earned = counts_by_campaign(session, batch_ids, money_settings(session).currency)
    visits = dict(
        session.execute(
            select(Delivery.campaign_id, func.count(distinct(Delivery.id)))
            .join(
                Visit,
                and_(
                    Visit.customer_id == Delivery.customer_id,
                    Visit.at >= Delivery.sent_at,
                    visit_hour < sent_hour + VISIT_WINDOW_HOURS,
                ),
            )
            .where(
                Delivery.campaign_id.in_(batch_ids),
                Delivery.status.in_(statuses.ACCEPTED),
                Delivery.sent_at.is_not(None),
            )
            .group_by(Delivery.campaign_id)
        ).all()
    )
    return {
        cid: Counts(
            int(sent.get(cid, 0)),
            int(opened.get(cid, 0)),
            int(clicked.get(cid, 0)),
            int(redeemed.get(cid, 0)),
            int(visits.get(cid, 0)),
            earned.get(cid, MoneyCounts()),
        )
        for cid in batch_ids
    }


def week_of(moment: datetime) -> date:
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def weekly(session: Session, automation_id: int, weeks: int = 12) -> list[WeekRow]:
    """The last `weeks` weeks (the current one included), oldest first, empty weeks as zeros."""
    this_week = week_of(utcnow())
    first = this_week - timedelta(weeks=weeks - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    batches = _batches(session, automation_id, since)
    totals = {first + timedelta(weeks=i): Counts() for i in range(weeks)}
    for cid, counts in _per_batch(session, list(batches)).items():
        week = week_of(batches[cid])
        if week in totals:
            totals[week] = totals[week] + counts
    return [WeekRow(week, counts) for week, counts in sorted(totals.items())]


def recent(session: Session, days: int = 30) -> dict[int, Counts]:
    """Automation id -> what its batches of the last `days` days did."""
    since = utcnow() - timedelta(days=days)
    ids = [int(i) for i in session.execute(select(Automation.id)).scalars()]
    out: dict[int, Counts] = {}
    for automation_id in ids:
        batches = _batches(session, automation_id, since)
        out[automation_id] = sum(_per_batch(session, list(batches)).values(), Counts())
    return out


def earnings(session: Session, counts: Counts) -> Earnings:
    """The money side of some counts, priced with the Settings."""
    return Earnings(counts.money, money_settings(session))


CSV_HEADER = (
    "week",
    "sent",
    "opened",
    "clicked",
    "redeemed",
    "visits_after",
    "revenue",
    "revenue_per_recipient",
    "message_cost",
    "return",
)


def weekly_csv(session: Session, rows: Iterable[WeekRow]) -> str:
    """The weekly table as CSV (numbers and dates only: nothing to neutralise)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    settings = money_settings(session)
    for row in rows:
        c = row.counts
        writer.writerow(
            (row.week.isoformat(), c.sent, c.opened, c.clicked, c.redeemed, c.visits,
             *Earnings(c.money, settings).csv_values())
        )  # fmt: skip
    return out.getvalue()
