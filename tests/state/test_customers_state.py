"""Customers page handlers: the list, its filters and pages, the add form, bulk tags, export."""

from __future__ import annotations

import base64
import json

import pytest
import sqlalchemy as sa

from marketing_ui.core import customers, tags
from marketing_ui.core.customers import PAGE_SIZE, CustomerInput
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import AuditEntry, ConsentEvent, Customer
from marketing_ui.state.customers import CustomersState
from tests.state.conftest import page_state


def _add(first: str, email: str = "", phone: str = "", consent: bool = False) -> int:
    with session_scope() as session:
        made = customers.create_customer(
            session,
            CustomerInput(first_name=first, email=email, phone=phone, email_consent=consent),
        )
        return int(made.id)


def _page(cookie: str = "") -> CustomersState:
    state = page_state(CustomersState, "/customers", cookie=cookie)
    state.load()
    return state


@pytest.fixture
def three(app_db: None) -> None:
    _add("Ada", "ada@example.com", consent=True)
    _add("Bob", "bob@example.com")
    _add("Cyd", phone="+14155550100")


def test_load_lists_every_customer_with_the_count(three: None) -> None:
    state = _page()
    assert state.total == 3
    assert sorted(r.name for r in state.rows) == ["Ada", "Bob", "Cyd"]
    assert state.list_error == "" and state.page_number == 1 and not state.has_next
    assert all(len(r.created) == len("2026-11-30") for r in state.rows)


def test_filters_narrow_the_list_and_clearing_brings_it_back(three: None) -> None:
    state = _page()
    state.set_email_filter("yes")
    assert [r.name for r in state.rows] == ["Ada"] and state.total == 1
    state.set_email_filter("any")
    state.set_search("bob@example.com")
    assert [r.name for r in state.rows] == ["Bob"]
    state.clear_filters()
    assert state.total == 3 and state.search == ""


def test_paging_forward_and_back(app_db: None) -> None:
    for i in range(PAGE_SIZE + 3):
        _add(f"Customer {i:03d}", f"c{i}@example.com")
    state = _page()
    first_page = [r.id for r in state.rows]
    assert len(first_page) == PAGE_SIZE and state.has_next and state.total == PAGE_SIZE + 3
    state.next_page()
    assert state.page_number == 2 and len(state.rows) == 3 and not state.has_next
    assert not set(first_page) & {r.id for r in state.rows}
    state.previous_page()
    assert [r.id for r in state.rows] == first_page and not state.has_previous


def test_a_bad_email_names_its_field_keeps_the_typing_and_stores_nothing(three: None) -> None:
    state = _page()
    state.open_add()
    state.save_customer({"first_name": "Eve", "email": "not an address"})
    assert state.edit_open and state.edit_error_field == "email"
    assert "email" in state.edit_error.lower()
    assert state.edit_values["first_name"] == "Eve"  # the form keeps what was typed
    assert _page().total == 3


def test_adding_a_customer_shows_it_with_a_message(three: None) -> None:
    state = _page()
    state.open_add()
    state.save_customer({"first_name": "Eve", "last_name": "Moss", "email": "eve@example.com"})
    assert not state.edit_open and state.bulk_message == "Saved Eve Moss."
    assert state.total == 4 and "Eve Moss" in [r.name for r in state.rows]


def test_bulk_tagging_needs_a_tag_then_tags_the_selection(three: None) -> None:
    with session_scope() as session:
        vip = tags.create_tag(session, "vip")
        session.commit()
        vip_id = str(vip.id)
    state = _page()
    ada = next(r.id for r in state.rows if r.name == "Ada")
    state.toggle_selected(ada)
    state.bulk_add_tag()
    assert state.bulk_message == "Pick a tag first."
    state.set_bulk_tag(vip_id)
    state.bulk_add_tag()
    assert state.bulk_message == "Tag added to 1 customer."
    state.set_tag_filter(vip_id)
    assert [r.name for r in state.rows] == ["Ada"]
    assert [t.customers for t in state.all_tags] == [1]


def test_the_detail_dialog_shows_the_customer(three: None) -> None:
    state = _page()
    bob = next(r.id for r in state.rows if r.name == "Bob")
    state.open_detail(bob)
    assert state.detail_open and state.detail.email == "bob@example.com"
    assert state.detail.created.endswith(" UTC") and state.detail.last_activity == "none yet"


def test_export_issues_a_link_for_the_logged_in_admin(three: None, admin_cookie: str) -> None:
    state = _page(admin_cookie)
    state.set_export_scope("segment")
    state.prepare_export()
    assert state.export_error == "Choose a segment to export." and state.export_path == ""
    state.set_export_scope("filter")
    state.set_email_filter("yes")
    state.prepare_export()
    assert state.export_error == "" and state.export_count == 1
    assert state.export_path


def test_export_without_a_session_issues_nothing(three: None) -> None:
    state = _page()
    state.prepare_export()
    assert state.export_path == "" and state.export_count == 0


def test_birthday_is_saved_and_a_bad_one_names_its_field(app_db: None) -> None:
    state = _page()
    state.open_add()
    form = {"first_name": "Ana", "email": "ana@example.com"}
    state.save_customer({**form, "birthday_month": "2", "birthday_day": "30"})
    assert state.edit_error_field == "birthday_day" and state.edit_open
    assert state.edit_values["birthday_day"] == "30"  # what was typed stays
    state.save_customer({**form, "birthday_month": "2", "birthday_day": "29", "birthday_year": ""})
    assert not state.edit_open
    row = state.rows[0]
    assert (row.visits, row.last_visit) == (0, "")
    state.open_detail(row.id)
    assert state.detail.birthday == "29 February"
    assert state.detail.personal_qr.startswith("data:image/png;base64,")
    assert state.detail.visits == 0 and state.detail.last_visit == "never"


def _download(spec: object) -> tuple[str, dict]:
    """(file name, JSON document) of an rx.download event the handler returned."""
    args = {str(key): value._var_value for key, value in spec.args}  # type: ignore[attr-defined]
    _, _, encoded = args["url"].partition("base64,")
    return args["filename"], json.loads(base64.b64decode(encoded))


def test_download_data_gives_the_customers_json_and_is_audited(three: None) -> None:
    state = _page()
    ada = next(r.id for r in state.rows if r.name == "Ada")
    state.open_detail(ada)
    name, data = _download(state.download_data())
    assert name == f"customer-{ada}-data.json"
    assert data["profile"]["email"] == "ada@example.com"
    assert [e["source"] for e in data["consent_history"]] == ["manual"]
    with session_scope() as session:
        entries = session.execute(
            sa.select(AuditEntry.action, AuditEntry.object_id, AuditEntry.summary).where(
                AuditEntry.action == "customer.data_export"
            )
        ).all()
    assert entries == [("customer.data_export", ada, "personal data as JSON")]


def test_erase_removes_the_customer_from_the_list_and_is_audited(three: None) -> None:
    state = _page()
    ada = next(r.id for r in state.rows if r.name == "Ada")
    state.open_detail(ada)
    assert [c["proof"] for c in state.detail.consent_history] == ["—"]
    state.erase_one()
    assert not state.detail_open
    assert state.bulk_message == f"Erased customer #{ada}: contact data removed, analytics kept."
    assert sorted(r.name for r in state.rows) == ["Bob", "Cyd"] and state.total == 2
    with session_scope() as session:
        erased = session.get(Customer, int(ada))
        assert erased.erased_at is not None and erased.email_enc is None
        actions = session.execute(
            sa.select(AuditEntry.action).where(AuditEntry.object_id == ada)
        ).scalars()
        assert "customer.erase" in list(actions)
    state.erase_one()  # a second click (a stale dialog) changes nothing and does not fail
    with session_scope() as session:
        count = session.execute(
            sa.select(sa.func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "customer.erase")
        ).scalar_one()
    assert count == 1


def test_the_consent_history_shows_how_where_which_wording_and_the_proof(app_db: None) -> None:
    customer_id = _add("Dee", "dee@example.com")
    with session_scope() as session:
        session.add(
            ConsentEvent(
                customer_id=customer_id,
                channel="email",
                granted=True,
                source="confirm_link",
                origin="table-tent",
                wording_version="2026-12",
                proof_hash="h" * 22,
            )
        )
    state = _page()
    state.open_detail(str(customer_id))
    (shown,) = state.detail.consent_history
    assert (shown["source"], shown["origin"], shown["wording"], shown["proof"]) == (
        "Confirmation link",
        "table-tent",
        "2026-12",
        "yes",
    )
