"""Counter check-in on the redeem page: exact lookups, a card with little PII, a visit recorded."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from reflex import constants
from reflex.istate.data import RouterData
from sqlmodel import select

from marketing_ui.core import auth, customers
from marketing_ui.core.check_in import personal_qr_token
from marketing_ui.core.customers import CustomerInput
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Customer
from marketing_ui.core.redis_client import get_redis
from marketing_ui.state.redeem import NOT_FOUND, RedeemState
from tests.state.conftest import page_state


def _staff_cookie() -> str:
    name = f"staff{uuid.uuid4().hex[:6]}"
    with session_scope() as session:
        auth.create_user(session, name, "correct horse battery", role="staff")
        session.commit()
        token = auth.login(session, get_redis(), name, "correct horse battery", f"ip-{name}")
    return f"{auth.SESSION_COOKIE}={token}"


@pytest.fixture
def counter(app_db: None) -> Iterator[RedeemState]:
    """A staff member's redeem page, from an address of its own so brakes never leak across tests."""
    cookie = _staff_cookie()
    state = page_state(RedeemState, "/redeem", cookie=cookie)
    state.router_data[constants.RouteVar.CLIENT_IP] = f"test-{uuid.uuid4().hex}"
    state.router = RouterData.from_router_data(state.router_data)
    _forget_user_brakes()
    state.load_form()
    yield state
    _forget_user_brakes()


def _forget_user_brakes() -> None:
    client = get_redis()
    for key in client.scan_iter(match="*redeem:*:user:1", count=1000):
        client.delete(key)


def _add(first: str, email: str = "", phone: str = "") -> int:
    with session_scope() as session:
        made = customers.create_customer(
            session, CustomerInput(first_name=first, last_name="Keller", email=email, phone=phone)
        )
        return int(made.id)


def test_staff_find_by_phone_and_record_a_visit(counter: RedeemState) -> None:
    _add("Noah", "noah@example.com", "+1 415 555 0199")
    counter.find_customer({"contact": "(415) 555-0199"})
    assert counter.card == {
        "first_name": "Noah",
        "contact": "n***@example.com",
        "visits": "0 visits",
        "last_visit": "Never",
    }
    assert counter.checkin_result == ""
    counter.record_check_in({})
    assert counter.checkin_result == "ok"
    assert counter.checkin_message == "Visit recorded. Welcome back, Noah!"
    assert counter.card["visits"] == "1 visit"
    assert counter.card["last_visit"] != "Never"
    with session_scope() as session:
        assert session.get(Customer, 1).visit_count == 1
    counter.next_customer()
    assert counter.card == {} and counter.checkin_result == ""


def test_find_by_email_and_no_partial_matches(counter: RedeemState) -> None:
    _add("Mia", phone="+14155550123")
    _add("Noah", "noah@example.com")
    counter.find_customer({"contact": "NOAH@example.com"})
    assert counter.card["first_name"] == "Noah"
    for text in ("Noah", "Keller", "noah@", "0123"):
        counter.find_customer({"contact": text})
        assert counter.card == {}, text
        assert (counter.checkin_result, counter.checkin_message) == ("unknown", NOT_FOUND)
    counter.record_check_in({})  # nothing on screen: nothing recorded
    with session_scope() as session:
        assert sum(c.visit_count for c in session.exec(select(Customer)).all()) == 0


def test_empty_lookup_says_what_to_type(counter: RedeemState) -> None:
    counter.find_customer({"contact": "  "})
    assert counter.checkin_message == "Type the customer's phone number or email address."


def test_a_scanned_personal_qr_opens_the_customer_card(counter: RedeemState) -> None:
    customer_id = _add("Noah", "noah@example.com")
    with session_scope() as session:
        token = personal_qr_token(session.get(Customer, customer_id))
    scanned = page_state(
        RedeemState,
        f"/redeem/{token}",
        route={"token": token},
        cookie=counter.router_data["headers"]["cookie"],
    )
    scanned.load_token()
    assert scanned.card["first_name"] == "Noah"
    assert scanned.coupon == {} and scanned.result == ""
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    counter.find_customer({"contact": forged})
    assert counter.card == {} and counter.checkin_message == NOT_FOUND


def test_repeated_misses_are_braked_like_unknown_codes(counter: RedeemState) -> None:
    for n in range(12):
        counter.find_customer({"contact": f"nobody{n}@example.com"})
    assert counter.checkin_result == "limited"
    assert "Too many unknown codes" in counter.checkin_message


def test_check_in_with_a_ticket_amount_refuses_junk_and_keeps_the_card(
    counter: RedeemState,
) -> None:
    from marketing_ui.core.models import Visit

    _add("Mia", "mia@example.com")
    counter.find_customer({"contact": "mia@example.com"})
    assert counter.currency_symbol == "$"
    for junk in ("-5", "12.505", "abc", "99999999"):
        counter.record_check_in({"amount": junk})
        assert counter.checkin_amount_error.startswith("Ticket amount:"), junk
        assert counter.card["visits"] == "0 visits"  # nothing recorded, card still on screen
    with session_scope() as session:
        assert session.exec(select(Visit)).all() == []
    counter.record_check_in({"amount": "$12,50"})
    assert counter.checkin_amount_error == ""
    assert counter.checkin_message == "Visit recorded. Welcome back, Mia! Ticket $12.50."
    with session_scope() as session:
        visit = session.exec(select(Visit)).one()
        assert (visit.amount_minor, visit.currency) == (1250, "USD")
