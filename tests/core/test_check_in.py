"""Counter check-in: exact lookups only, a personal QR that cannot be forged, a visit recorded."""

from __future__ import annotations

from sqlmodel import Session

from marketing_ui.core.check_in import (
    check_in,
    customer_from_qr,
    find_customer,
    personal_qr_token,
)
from marketing_ui.core.customers import CustomerInput, create_customer
from marketing_ui.core.models import Customer, User


def _customer(session: Session) -> Customer:
    customer = create_customer(
        session, CustomerInput("Noah", "Keller", "noah@example.com", "+1 415 555 0199")
    )
    session.commit()
    return customer


def test_found_by_exact_phone_email_or_qr_only(session: Session) -> None:
    customer = _customer(session)
    for text in (
        "+14155550199",
        "(415) 555-0199",
        " NOAH@example.com ",
        personal_qr_token(customer),
    ):
        card = find_customer(session, text)
        assert card is not None, text
        assert (card.customer_id, card.first_name) == (customer.id, "Noah")
        assert card.contact == "n***@example.com"
        assert (card.visit_count, card.last_visit_at) == (0, None)
    for text in ("Noah", "Keller", "noah@example", "415555", "", "@", "m.", "+1 415 555 0100"):
        assert find_customer(session, text) is None, text


def test_a_forged_or_edited_personal_qr_finds_nobody(session: Session) -> None:
    customer = _customer(session)
    token = personal_qr_token(customer)
    assert customer_from_qr(session, token).id == customer.id
    uid, signature = token[2:].split(".")
    other = Customer(first_name="Mia")
    session.add(other)
    session.commit()
    assert customer_from_qr(session, f"m.{other.uid}.{signature}") is None
    assert customer_from_qr(session, f"m.{uid}.{signature[:-1]}x") is None
    assert customer_from_qr(session, f"m.{uid}") is None
    assert customer_from_qr(session, "m." + "a" * 500) is None


def test_check_in_records_a_visit_for_active_staff_only(session: Session) -> None:
    customer = _customer(session)
    staff = User(username="counter", password_hash="x", role="staff")
    gone = User(username="former", password_hash="x", role="staff", active=False)
    session.add_all([staff, gone])
    session.commit()
    card = check_in(session, customer.id, staff)
    assert card is not None and card.visit_count == 1 and card.last_visit_at is not None
    assert check_in(session, customer.id, gone) is None
    assert check_in(session, 999_999, staff) is None
    assert find_customer(session, "noah@example.com").visit_count == 1
