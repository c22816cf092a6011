"""Visits keep the customer's count and last visit in step; a coupon is one visit; birthdays check."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from marketing_ui.core.clock import as_utc, utcnow
from marketing_ui.core.coupons import (
    RedeemResult,
    UndoResult,
    find_by_token,
    issue_coupons,
    redeem,
    secrets_for_deliveries,
    undo_redemption,
)
from marketing_ui.core.customers import delete_customers
from marketing_ui.core.models import (
    AuditEntry,
    Campaign,
    Customer,
    Delivery,
    User,
    Visit,
    VisitSource,
)
from marketing_ui.core.visits import (
    Birthday,
    BirthdayError,
    birthday_in_year,
    parse_birthday,
    parse_birthday_text,
    record_visit,
    remove_coupon_visit,
    visit_summary,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _customer(session: Session, name: str = "Ana") -> int:
    customer = Customer(first_name=name)
    session.add(customer)
    session.commit()
    return customer.id


def _user(session: Session, username: str, role: str) -> User:
    user = User(username=username, password_hash="x", role=role)
    session.add(user)
    session.commit()
    return user


def _coupon(session: Session, customer_id: int) -> int:
    """One issued coupon for the customer, from a one-recipient QR campaign."""
    campaign = Campaign(name="Spring", has_qr_code=True, offer_text="Free dessert")
    session.add(campaign)
    session.flush()
    delivery = Delivery(campaign_id=campaign.id, customer_id=customer_id, channel="email")
    session.add(delivery)
    session.flush()
    issue_coupons(session, campaign.id)
    session.commit()
    token = secrets_for_deliveries(session, [delivery.id])[delivery.id].token
    view = find_by_token(session, token)
    assert view is not None
    return view.coupon_id


def test_check_ins_count_and_keep_the_latest_time(session: Session) -> None:
    cid = _customer(session)
    assert record_visit(session, cid, VisitSource.CHECK_IN, at=T0)
    assert record_visit(session, cid, "check_in", at=T0 - timedelta(days=3))  # entered late
    session.commit()
    summary = visit_summary(session, cid)
    assert summary.visit_count == 2
    assert summary.last_visit_at == T0
    assert record_visit(session, cid, VisitSource.CHECK_IN, at=T0 + timedelta(hours=1))
    session.commit()
    assert visit_summary(session, cid) == type(summary)(3, T0 + timedelta(hours=1))
    actions = session.exec(select(AuditEntry.action)).all()
    assert actions.count("visit.record") == 3


def test_a_loaded_customer_sees_the_new_summary(session: Session) -> None:
    cid = _customer(session)
    customer = session.get(Customer, cid)
    assert customer.visit_count == 0
    record_visit(session, cid, VisitSource.CHECK_IN, at=T0)
    assert customer.visit_count == 1
    assert as_utc(customer.last_visit_at) == T0


def test_a_coupon_is_at_most_one_visit(session: Session) -> None:
    cid = _customer(session)
    coupon_id = _coupon(session, cid)
    assert record_visit(session, cid, VisitSource.REDEMPTION, at=T0, coupon_id=coupon_id)
    assert not record_visit(session, cid, VisitSource.REDEMPTION, at=T0, coupon_id=coupon_id)
    session.commit()
    assert visit_summary(session, cid).visit_count == 1
    assert len(session.exec(select(Visit)).all()) == 1


def test_unknown_customer_or_source_is_refused(session: Session) -> None:
    with pytest.raises(LookupError):
        record_visit(session, 987654, VisitSource.CHECK_IN)
    cid = _customer(session)
    with pytest.raises(ValueError):
        record_visit(session, cid, "walk_by")


def test_redeeming_records_the_visit_and_undo_takes_it_back(session: Session) -> None:
    cid = _customer(session)
    staff, admin = _user(session, "counter", "staff"), _user(session, "owner", "admin")
    record_visit(session, cid, VisitSource.CHECK_IN, at=T0 - timedelta(days=10))
    session.commit()
    coupon_id = _coupon(session, cid)

    assert redeem(session, coupon_id, staff).result == RedeemResult.OK
    summary = visit_summary(session, cid)
    assert summary.visit_count == 2
    assert summary.last_visit_at is not None
    assert summary.last_visit_at > utcnow() - timedelta(minutes=1)
    visit = session.exec(select(Visit).where(Visit.coupon_id == coupon_id)).one()
    assert (visit.source, visit.user_id) == (VisitSource.REDEMPTION.value, staff.id)

    assert redeem(session, coupon_id, staff).result == RedeemResult.ALREADY_REDEEMED
    assert visit_summary(session, cid).visit_count == 2

    assert undo_redemption(session, coupon_id, admin, "wrong table").result == UndoResult.OK
    assert visit_summary(session, cid) == type(summary)(1, T0 - timedelta(days=10))
    assert session.exec(select(Visit).where(Visit.coupon_id == coupon_id)).first() is None

    assert redeem(session, coupon_id, staff).result == RedeemResult.OK  # redeemed again
    assert visit_summary(session, cid).visit_count == 2


def test_undoing_the_only_visit_clears_the_last_visit(session: Session) -> None:
    cid = _customer(session)
    coupon_id = _coupon(session, cid)
    record_visit(session, cid, VisitSource.REDEMPTION, at=T0, coupon_id=coupon_id)
    session.commit()
    assert remove_coupon_visit(session, coupon_id)
    assert not remove_coupon_visit(session, coupon_id)
    session.commit()
    assert visit_summary(session, cid) == type(visit_summary(session, cid))(0, None)


def test_erasing_a_customer_erases_their_visits(session: Session) -> None:
    cid = _customer(session)
    coupon_id = _coupon(session, cid)
    record_visit(session, cid, VisitSource.REDEMPTION, at=T0, coupon_id=coupon_id)
    record_visit(session, cid, VisitSource.CHECK_IN, at=T0)
    session.commit()
    assert delete_customers(session, [cid]) == 1
    session.commit()
    assert session.exec(select(Visit)).all() == []


# Birthdays --------------------------------------------------------------------------------

TODAY = date(2026, 6, 15)


@pytest.mark.parametrize(
    ("month", "day", "year", "field"),
    [
        (2, 31, None, "birthday_day"),
        (2, 30, None, "birthday_day"),
        (4, 31, None, "birthday_day"),
        (13, 1, None, "birthday_month"),
        (0, 1, None, "birthday_month"),
        (5, 0, None, "birthday_day"),
        (5, 1, 2027, "birthday_year"),
        (12, 1, 2026, "birthday_year"),  # later this year: not born yet
        (5, 1, 1899, "birthday_year"),
        (2, 29, 2023, "birthday_year"),
        ("May", 1, None, "birthday_month"),
        (5, "", None, "birthday_day"),
        ("", 3, None, "birthday_month"),
        ("", "", 1990, "birthday_month"),
    ],
)
def test_impossible_birthdays_name_the_field(
    month: object, day: object, year: object, field: str
) -> None:
    with pytest.raises(BirthdayError) as caught:
        parse_birthday(month, day, year, today=TODAY)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert str(caught.value).startswith("Birthday " + field.removeprefix("birthday_"))


def test_possible_birthdays_are_accepted() -> None:
    assert parse_birthday(2, 29, today=TODAY) == Birthday(2, 29, None)
    assert parse_birthday("2", "29", "2000", today=TODAY) == Birthday(2, 29, 2000)
    assert parse_birthday(12, 31, 1900, today=TODAY) == Birthday(12, 31, 1900)
    assert parse_birthday(6, 15, 2026, today=TODAY) == Birthday(6, 15, 2026)
    assert parse_birthday(" 7 ", " 4 ", " ", today=TODAY) == Birthday(7, 4, None)
    assert parse_birthday(None, None, None) is None
    assert parse_birthday("", "", "") is None


def test_birthday_in_a_year_keeps_29_february_on_28_february() -> None:
    assert birthday_in_year(2, 29, 2027) == date(2027, 2, 28)
    assert birthday_in_year(2, 29, 2028) == date(2028, 2, 29)
    assert birthday_in_year(7, 4, 2027) == date(2027, 7, 4)


# Birthdays in spreadsheet cells (imports) ---------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "month_first", "expected"),
    [
        ("1990-05-17", True, (5, 17, 1990)),
        ("1990-05-17 00:00:00", False, (5, 17, 1990)),  # a date column exported with its time
        ("1604-05-17", True, (5, 17, None)),  # Apple Contacts: no year
        ("--05-17", False, (5, 17, None)),  # vCard: no year
        ("17 May 1990", True, (5, 17, 1990)),
        ("May 17", False, (5, 17, None)),
        ("Sept 3rd, 1985", False, (9, 3, 1985)),
        ("5/17/1990", False, (5, 17, 1990)),  # a day over 12 settles the order
        ("17/05/1990", True, (5, 17, 1990)),
        ("05/06/1990", True, (5, 6, 1990)),  # either way round: the business's habit decides
        ("05/06/1990", False, (6, 5, 1990)),
        ("17.05.1990", True, (5, 17, 1990)),  # dots: always day first
        ("12/31/99", True, (12, 31, 1999)),
        ("1/1/05", False, (1, 1, 2005)),
        ("29/02", False, (2, 29, None)),
        ("", True, None),
    ],
)
def test_a_birthday_cell_reads_as_people_write_it(
    cell: str, month_first: bool, expected: tuple[int, int, int | None] | None
) -> None:
    found = parse_birthday_text(cell, month_first, TODAY)
    assert (found and (found.month, found.day, found.year)) == expected


@pytest.mark.parametrize(
    ("cell", "says"),
    [
        ("31/02/1990", "February has days 1 to 29"),
        ("29.02.1991", "1991 had no 29 February"),
        ("13/13", "month from 1 to 12"),
        ("someday", "not a date this import reads"),
        ("2.5E+4", "not a date this import reads"),
    ],
)
def test_a_birthday_cell_that_is_not_one_says_why(cell: str, says: str) -> None:
    with pytest.raises(BirthdayError, match=says) as caught:
        parse_birthday_text(cell, True, TODAY)
    assert caught.value.field == "birthday"
