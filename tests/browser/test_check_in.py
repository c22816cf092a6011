"""At the counter, staff check a regular in by phone, then by the personal QR on their card,
and the admin sees the visits on the customer's page."""

from __future__ import annotations

from sqlalchemy import select

from marketing_ui.core.check_in import personal_qr_url
from marketing_ui.core.customers import CustomerInput, create_customer
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Customer, Visit
from tests.browser.conftest import ADMIN, STAFF, login, open_page

PHONE = "+1 415 555 0142"


def test_staff_check_a_regular_in_by_phone_and_by_personal_qr(app_url, browser, page) -> None:  # noqa: ANN001
    with session_scope() as session:
        regular = create_customer(
            session, CustomerInput(first_name="Rosa", phone=PHONE, sms_consent=True)
        )
        customer_id, qr_url = regular.id, personal_qr_url(regular)

    # Staff type the number the customer says, written their own way.
    login(page, app_url, *STAFF)
    open_page(page, f"{app_url}/redeem")
    page.fill("#checkin-input", "(415) 555-0142")
    page.click("#find-customer")
    page.wait_for_selector("#checkin-card")
    assert page.locator("#checkin-name").inner_text() == "Rosa"
    assert page.locator("#checkin-visits").inner_text().startswith("0 visit")
    assert "0142" in page.locator("#checkin-contact").inner_text()
    page.click("#record-visit")
    page.wait_for_selector("#checkin-result[data-result='ok']")
    assert page.locator("#checkin-visits").inner_text().startswith("1 visit")
    assert page.locator("#record-visit").is_disabled()  # a double tap records one visit

    # An unknown number: told plainly, nothing recorded.
    page.click("#next-customer")
    page.fill("#checkin-input", "+1 415 555 0199")
    page.click("#find-customer")
    page.wait_for_selector("#checkin-result[data-result]")
    assert page.locator("#checkin-result").get_attribute("data-result") != "ok"
    assert page.locator("#checkin-card").count() == 0

    # Next time Rosa shows the personal QR on her phone; the staff phone camera opens it.
    assert "/redeem/" in qr_url
    open_page(page, f"{app_url}/redeem/{qr_url.rsplit('/redeem/', 1)[1]}")
    page.wait_for_selector("#checkin-card")
    assert page.locator("#checkin-name").inner_text() == "Rosa"
    page.click("#record-visit")
    page.wait_for_selector("#checkin-result[data-result='ok']")
    assert page.locator("#checkin-visits").inner_text().startswith("2 visit")

    with session_scope() as session:
        visits = session.execute(select(Visit.source).where(Visit.customer_id == customer_id))
        assert sorted(visits.scalars()) == ["check_in", "check_in"]
        assert session.get(Customer, customer_id).visit_count == 2  # type: ignore[union-attr]

    # The owner sees the two visits on Rosa's page.
    admin = browser.new_page()
    login(admin, app_url, *ADMIN)
    open_page(admin, f"{app_url}/customers")
    admin.fill("#customer-search", PHONE)
    admin.wait_for_function(  # the exact phone finds Rosa alone
        "() => document.querySelectorAll('#customers-table .customer-row').length === 1"
    )
    admin.locator(".customer-row", has_text="Rosa").click()
    admin.wait_for_selector("#detail-visits")
    assert admin.locator("#detail-visits").inner_text().startswith("2 · last ")
