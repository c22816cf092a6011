"""A customer opens their coupon from an SMS; staff redeem it at the counter, once only."""

from __future__ import annotations

import csv
import io
import os
import re
from datetime import timedelta

from marketing_ui.core.clock import utcnow
from marketing_ui.core.coupons import issue_coupons, secrets_for_deliveries
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Campaign, Customer, Delivery
from tests.browser.conftest import ADMIN, STAFF, login, open_page


def _seed_campaign(first_names: list[str]) -> tuple[int, list[tuple[str, str]]]:
    """A sent QR campaign; returns its id and each recipient's (token, short code)."""
    with session_scope() as session:
        campaign = Campaign(
            name="Monday special",
            channel="sms",
            has_qr_code=True,
            offer_text="Free dessert with any main course",
            offer_expires_at=utcnow() + timedelta(days=14),
        )
        customers = [Customer(first_name=name, sms_consent=True) for name in first_names]
        session.add(campaign)
        session.add_all(customers)
        session.flush()
        deliveries = [
            Delivery(campaign_id=campaign.id, customer_id=c.id, channel="sms") for c in customers
        ]
        session.add_all(deliveries)
        session.flush()
        issue_coupons(session, campaign.id)
        session.flush()
        secrets = secrets_for_deliveries(session, [d.id for d in deliveries])
        return campaign.id, [(secrets[d.id].token, secrets[d.id].short_code) for d in deliveries]


def _shot(page, name: str, selector: str = "") -> None:  # noqa: ANN001
    """Pictures for a person to look at, only when REDEEM_SHOTS names a folder."""
    folder = os.environ.get("REDEEM_SHOTS")
    if folder:
        target = page.locator(selector) if selector else page
        target.screenshot(path=f"{folder}/{name}.png")


def test_customer_shows_coupon_and_staff_redeem_it_once(app_url, browser, page) -> None:  # noqa: ANN001
    campaign_id, [(token, code)] = _seed_campaign(["Maria"])

    # The customer taps the link in their SMS: no login, a phone screen.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    customer = phone.new_page()
    customer.goto(f"{app_url}/c/{token}")
    assert customer.locator("#short-code").inner_text() == code
    assert "Free dessert" in customer.locator("#offer").inner_text()
    assert customer.locator("#coupon-state").inner_text().startswith("Valid until")
    assert customer.locator(".qr svg").is_visible()

    # Staff at the counter type the code the customer reads out (any case, no dash).
    login(page, app_url, *STAFF)
    open_page(page, f"{app_url}/redeem")
    page.fill("#code-input", code.replace("-", "").lower())
    page.click("#find-code")
    page.wait_for_selector("#coupon-card")
    assert page.locator("#coupon-code").inner_text() == code
    assert page.locator("#coupon-customer").inner_text() == "Maria"
    assert page.locator("#coupon-campaign").inner_text() == "Monday special"
    assert page.locator("#coupon-state").inner_text() == "issued"
    # A ticket amount that is not one is refused by name; nothing is redeemed.
    page.fill("#amount-input", "-5")
    page.click("#redeem-button")
    page.wait_for_selector("#amount-input-error")
    assert page.locator("#amount-input-error").inner_text().startswith("Ticket amount:")
    assert page.locator("#coupon-state").inner_text() == "issued"
    _shot(page, "redeem_amount_refused")
    page.fill("#amount-input", "12,50")
    page.click("#redeem-button")
    page.wait_for_selector("#redeem-result[data-result='ok']")
    assert "Redeemed" in page.locator("#redeem-result").inner_text()
    assert "(ticket $12.50)" in page.locator("#redeem-result").inner_text()
    assert page.locator("#coupon-amount").inner_text() == "$12.50"
    assert page.locator("#redeem-button").count() == 0
    _shot(page, "redeem_amount")

    # The owner sees it as the campaign's revenue.
    owner = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    login(owner, app_url, *ADMIN)
    open_page(owner, f"{app_url}/campaigns/{campaign_id}/analytics")
    owner.wait_for_selector("#revenue-card")
    assert "$12.50" in owner.locator("#stat-revenue").inner_text()
    assert "1 of 1 redemptions with an amount" in owner.locator("#revenue-card").inner_text()
    owner.locator("#revenue-card").scroll_into_view_if_needed()
    _shot(owner, "revenue_card", "#revenue-card")
    owner.context.close()

    # A second try with the same code is refused, saying when and by whom.
    page.fill("#code-input", code)
    page.click("#find-code")
    page.wait_for_selector("#redeem-result[data-result='already_redeemed']")
    message = page.locator("#redeem-result").inner_text()
    assert "Already redeemed on" in message and f"by {STAFF[0]}" in message
    assert page.locator("#redeem-button").count() == 0

    # An unknown code says so, distinctly.
    page.fill("#code-input", "ZZZZ-ZZZZ")
    page.click("#find-code")
    page.wait_for_selector("#redeem-result[data-result='unknown']")
    assert page.locator("#coupon-card").count() == 0

    # The customer's page now shows the coupon as used.
    customer.reload()
    assert customer.locator("main").get_attribute("data-state") == "redeemed"
    assert "Already used" in customer.locator("#coupon-state").inner_text()
    phone.close()


def test_scanned_qr_opens_redeem_after_login_and_admin_can_undo(
    app_url,  # noqa: ANN001
    browser,  # noqa: ANN001
    page,  # noqa: ANN001
) -> None:
    campaign_id, [(token, code), (_other_token, other_code)] = _seed_campaign(["Jo", "Sam"])

    # The phone camera opens the redeem URL; the guard sends staff to log in first.
    open_page(page, f"{app_url}/redeem/{token}")
    page.wait_for_url("**/login?next=**")
    page.fill("#username", STAFF[0])
    page.fill("#password", STAFF[1])
    page.click("#login-submit")
    page.wait_for_url(f"**/redeem/{token}")
    page.wait_for_selector("#coupon-card")
    assert page.locator("#coupon-customer").inner_text() == "Jo"
    assert page.locator("#undo-button").count() == 0  # staff cannot undo
    page.click("#redeem-button")
    page.wait_for_selector("#redeem-result[data-result='ok']")

    # The owner corrects a mistaken redemption; the coupon is redeemable again.
    admin = browser.new_context(viewport={"width": 1280, "height": 860})
    owner = admin.new_page()
    login(owner, app_url, *ADMIN)
    open_page(owner, f"{app_url}/redeem/{token}")
    owner.wait_for_selector("#redeem-result[data-result='already_redeemed']")
    owner.fill("#undo-note", "Scanned the wrong phone")
    owner.click("#undo-button")
    owner.wait_for_selector("#redeem-result[data-result='undone']")
    assert owner.locator("#redeem-button").is_visible()

    # The owner's coupon list: states, who redeemed, search by code, CSV export.
    open_page(owner, f"{app_url}/campaigns/{campaign_id}/coupons")
    owner.wait_for_selector(".coupon-row")
    assert owner.locator(".coupon-row").count() == 2
    assert owner.locator("#coupons-campaign").inner_text() == "Monday special"
    owner.fill("#coupon-search", other_code.lower())
    owner.click("#coupon-search-submit")
    owner.wait_for_function("() => document.querySelectorAll('.coupon-row').length === 1")
    assert other_code in owner.locator(".coupon-row").inner_text()

    href = owner.locator("#export-csv").locator("xpath=..").get_attribute("href")
    assert href == f"{app_url}/api/campaigns/{campaign_id}/coupons.csv"
    response = owner.request.get(href)
    assert response.status == 200
    rows = list(csv.DictReader(io.StringIO(response.text())))
    assert sorted(row["short_code"] for row in rows) == sorted([code, other_code])
    assert page.request.get(href).status == 403  # staff's session cannot export
    admin.close()


def test_staff_sent_away_from_an_admin_page_are_told_why(app_url, page) -> None:  # noqa: ANN001
    login(page, app_url, *STAFF)
    open_page(page, f"{app_url}/customers")
    page.wait_for_url(re.compile(r"/redeem\?denied=/customers/?$"))
    note = page.locator("#denied-note")
    note.wait_for()
    assert note.inner_text() == (
        "That page (/customers) is for admins; your account can redeem coupons."
    )
    assert page.locator("#code-input").is_visible()  # and the counter form is right there

    open_page(page, f"{app_url}/redeem")
    page.wait_for_selector("#code-input")
    assert page.locator("#denied-note").count() == 0  # only when something was refused
