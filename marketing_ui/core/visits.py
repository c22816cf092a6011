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
import re
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


_MONTHS = {
    name.lower(): number
    for number in range(1, 13)
    for name in (calendar.month_name[number], calendar.month_abbr[number])
} | {"sept": 9}
_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ].*)?")  # 1990-05-17, with a time
_NO_YEAR_ISO = re.compile(r"--(\d{1,2})-?(\d{1,2})")  # vCard: --0517, --05-17
_NUMBERS = re.compile(r"(\d{1,2})([/.\-])(\d{1,2})(?:\2(\d{2}|\d{4}))?\.?")
_WORDS = re.compile(r"([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?")  # May 17, 1990
_WORDS_DAY_FIRST = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\.?\s+([a-z]+)\.?(?:,?\s+(\d{4}))?")
_NO_YEAR = (1604, 0)  # Apple Contacts writes 1604-05-17 (others 0000-05-17) for no year
MONTH_FIRST_REGIONS = frozenset({"US", "PH", "FM", "MH", "PW", "GU", "AS", "MP", "VI", "PR"})


def parse_birthday_text(text: str, month_first: bool, today: date | None = None) -> Birthday | None:
    """A birthday written in a spreadsheet cell, None when empty; BirthdayError (field
    "birthday") saying what is wrong.

    Read: 1990-05-17 (and with a time), --05-17, 17 May 1990, May 17, 5/17/1990, 17.05.1990,
    17/05. Two numbers that could be either way round (05/06) are read month first when
    `month_first` (a US business), day first otherwise; a day over 12 settles it either way.
    A two-digit year is read as 19xx or 20xx, whichever is not in the future.
    """
    cell = " ".join(text.strip().lower().split())
    if not cell:
        return None
    today = today or utcnow().date()
    found = _ISO.fullmatch(cell)
    if found:
        y, m, d = (int(g) for g in found.groups())
        return _checked(m, d, None if y in _NO_YEAR else y, today)
    found = _NO_YEAR_ISO.fullmatch(cell)
    if found:
        return _checked(int(found.group(1)), int(found.group(2)), None, today)
    found = _WORDS.fullmatch(cell)
    if found and found.group(1) in _MONTHS:
        return _checked(
            _MONTHS[found.group(1)], int(found.group(2)), _year(found.group(3), today), today
        )
    found = _WORDS_DAY_FIRST.fullmatch(cell)
    if found and found.group(2) in _MONTHS:
        return _checked(
            _MONTHS[found.group(2)], int(found.group(1)), _year(found.group(3), today), today
        )
    found = _NUMBERS.fullmatch(cell)
    if found:
        a, b, y = int(found.group(1)), int(found.group(3)), _year(found.group(4), today)
        day_first = found.group(2) == "." or not month_first  # 17.05.1990 is always day first
        if a > 12 >= b:
            day_first = True
        elif b > 12 >= a:
            day_first = False
        return _checked(b if day_first else a, a if day_first else b, y, today)
    raise BirthdayError(
        "Birthday: not a date this import reads (write it like 1990-05-17, 17 May or 5/17).",
        "birthday",
    )


def _year(text: str | None, today: date) -> int | None:
    if not text:
        return None
    year = int(text)
    if len(text) == 2:
        year += 2000 if 2000 + year <= today.year else 1900
    return year


def _checked(month: int, day: int, year: int | None, today: date) -> Birthday:
    try:
        found = parse_birthday(month, day, year, today)
    except BirthdayError as exc:
        raise BirthdayError(str(exc), "birthday") from None
    assert found is not None
    return found


def birthday_in_year(month: int, day: int, year: int) -> date:
    """The day the birthday falls on in `year`: 29 February is 28 February in a common year."""
    if (month, day) == (2, 29) and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, month, day)
