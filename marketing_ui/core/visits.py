"""Visits (a redeemed coupon or a counter check-in) and birthdays, the two facts automations read.

`Customer.visit_count` and `Customer.last_visit_at` are a summary of the Visit rows, kept in
step in the same transaction as the row they summarise: adding a visit bumps them with one
conditional UPDATE (so two staff phones checking the same customer in at once both count),
removing one recomputes them from what is left. A coupon is at most one visit: Visit.coupon_id
is unique and the row goes in with insert-or-ignore, so a repeated call changes nothing.

Birthdays are a month and a day, the year optional. 29 February is a real birthday: in a year
without one it is kept on 28 February (`birthday_in_year`), the day before 1 March, so the
greeting is never late and never skipped.

Nothing here commits: the caller's transaction (a redemption, a check-in) owns the change.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, delete, func, or_, select, update
from sqlmodel import Session

from marketing_ui.core import app_settings, audit, money
from marketing_ui.core.clock import as_utc, utcnow
from marketing_ui.core.db import insert_ignore
from marketing_ui.core.models import Customer, Visit, VisitSource

MIN_BIRTH_YEAR = 1900


@dataclass(frozen=True)
class VisitSummary:
    """What the counter and the customer pages show about a customer's visits."""

    visit_count: int
    last_visit_at: datetime | None


def record_visit(
    session: Session,
    customer_id: int,
    source: str | VisitSource,
    at: datetime | None = None,
    coupon_id: int | None = None,
    user_id: int | None = None,
    amount: money.Amount | None = None,
) -> bool:
    """Add one visit and bump the customer's count and last visit; False if the coupon had one.

    Does not commit. Raises LookupError for an unknown customer and ValueError for an
    unknown source.
    """
    source = VisitSource(source)
    when = as_utc(at) or utcnow()
    if session.execute(select(Customer.id).where(Customer.id == customer_id)).first() is None:
        raise LookupError(f"Customer #{customer_id} does not exist.")
    visit_id = session.execute(
        insert_ignore(session, Visit.__table__)
        .values(
            customer_id=customer_id,
            at=when,
            source=source.value,
            coupon_id=coupon_id,
            user_id=user_id,
            amount_minor=amount.minor if amount else None,
            currency=amount.currency if amount else None,
            created_at=utcnow(),
        )
        .returning(Visit.id)
    ).scalar_one_or_none()
    if visit_id is None:
        return False  # this coupon's visit is already recorded
    later = or_(Customer.last_visit_at.is_(None), Customer.last_visit_at < when)
    session.execute(
        update(Customer)
        .where(Customer.id == customer_id)
        .values(
            visit_count=Customer.visit_count + 1,
            last_visit_at=case((later, when), else_=Customer.last_visit_at),
        )
        .execution_options(synchronize_session=False)
    )
    _forget_cached(session, customer_id)
    what = f"coupon #{coupon_id}" if coupon_id is not None else "counter check-in"
    what += f", ticket {amount}" if amount else ""
    audit.record(session, "visit.record", "customer", customer_id, f"{source.value}: {what}")
    return True


def ticket_amount(session: Session, text: object) -> money.Amount | None:
    """The amount staff typed, in the Settings currency; None when the field was left empty.

    Raises money.AmountError (its message names the field) for a negative, non-numeric, too
    precise or too large amount.
    """
    settings = app_settings.money_settings(session)
    minor = money.parse_amount(text, settings.currency, settings.max_ticket_minor)
    return None if minor is None else money.Amount(minor, settings.currency)


def remove_coupon_visit(session: Session, coupon_id: int) -> bool:
    """Take back the visit a redemption recorded (its undo); False if it had none.

    Does not commit. The summary is recomputed from the visits that remain.
    """
    customer_id = session.execute(
        select(Visit.customer_id).where(Visit.coupon_id == coupon_id)
    ).scalar_one_or_none()
    if customer_id is None:
        return False
    session.execute(
        delete(Visit)
        .where(Visit.coupon_id == coupon_id)
        .execution_options(synchronize_session=False)
    )
    recount(session, customer_id)
    audit.record(session, "visit.remove", "customer", customer_id, f"coupon #{coupon_id} undone")
    return True


def recount(session: Session, customer_id: int) -> None:
    """Set the customer's visit count and last visit from its Visit rows. Does not commit."""
    mine = Visit.customer_id == customer_id
    session.execute(
        update(Customer)
        .where(Customer.id == customer_id)
        .values(
            visit_count=select(func.count(Visit.id)).where(mine).scalar_subquery(),
            last_visit_at=select(func.max(Visit.at)).where(mine).scalar_subquery(),
        )
        .execution_options(synchronize_session=False)
    )
    _forget_cached(session, customer_id)


def visit_summary(session: Session, customer_id: int) -> VisitSummary:
    row = session.execute(
        select(Customer.visit_count, Customer.last_visit_at).where(Customer.id == customer_id)
    ).first()
    if row is None:
        raise LookupError(f"Customer #{customer_id} does not exist.")
    return VisitSummary(int(row[0] or 0), as_utc(row[1]))


def _forget_cached(session: Session, customer_id: int) -> None:
    """A Customer already loaded in this session must not show the old summary."""
    cached = session.identity_map.get(session.identity_key(Customer, customer_id))
    if cached is not None:
        session.expire(cached, ["visit_count", "last_visit_at"])


# Birthdays ------------------------------------------------------------------------------------


class BirthdayError(ValueError):
    """A message naming the form field it belongs to (birthday_month, birthday_day, birthday_year)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Birthday:
    month: int
    day: int
    year: int | None = None


def _number(value: int | str | None, field: str, label: str) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise BirthdayError(f"Birthday {label}: give a number.", field)
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 4:  # int("²") raises
        raise BirthdayError(f"Birthday {label}: give a number.", field)
    return int(text)


def parse_birthday(
    month: int | str | None,
    day: int | str | None,
    year: int | str | None = None,
    today: date | None = None,
) -> Birthday | None:
    """A checked birthday, None when all three are empty; BirthdayError names the bad field.

    29 February is accepted without a year or with a leap year; with any other year it is
    refused, as are 30 and 31 February, month 13, day 0 and years before 1900 or in the future.
    """
    m = _number(month, "birthday_month", "month")
    d = _number(day, "birthday_day", "day")
    y = _number(year, "birthday_year", "year")
    if m is None and d is None and y is None:
        return None
    if m is None:
        raise BirthdayError("Birthday month: pick the month as well as the day.", "birthday_month")
    if d is None:
        raise BirthdayError("Birthday day: give the day as well as the month.", "birthday_day")
    if not 1 <= m <= 12:
        raise BirthdayError("Birthday month: give a month from 1 to 12.", "birthday_month")
    longest = 29 if m == 2 else calendar.monthrange(2000, m)[1]  # 2000: a leap year
    if not 1 <= d <= longest:
        month_name = calendar.month_name[m]
        raise BirthdayError(
            f"Birthday day: {month_name} has days 1 to {longest}, not {d}.", "birthday_day"
        )
    if y is not None:
        today = today or utcnow().date()
        this_year = today.year
        if not MIN_BIRTH_YEAR <= y <= this_year:
            raise BirthdayError(
                f"Birthday year: give a year from {MIN_BIRTH_YEAR} to {this_year}, or leave it empty.",
                "birthday_year",
            )
        if (m, d) == (2, 29) and not calendar.isleap(y):
            raise BirthdayError(
                f"Birthday year: {y} had no 29 February; check the year or leave it empty.",
                "birthday_year",
            )
        if date(y, m, d) > today:
            raise BirthdayError("Birthday year: that day has not come yet.", "birthday_year")
    return Birthday(m, d, y)


def birthday_in_year(month: int, day: int, year: int) -> date:
    """The day the birthday falls on in `year`: 29 February is 28 February in a common year."""
    if (month, day) == (2, 29) and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, month, day)
