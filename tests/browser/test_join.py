"""A guest scans the table tent with their phone, joins the list, confirms by the emailed link,
gets the welcome email with its coupon, opens their preferences, downloads their data and erases
themselves: the whole of issue 15 on a phone-sized screen, against the production build."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

from sqlalchemy import select, update

from marketing_ui.core.automations import config as automation_config
from marketing_ui.core.automations import engine as automations
from marketing_ui.core.clock import utcnow
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Automation, Campaign, ConsentEvent, Customer
from marketing_ui.core.sending.providers import read_outbox

CONFIRM_LINK = re.compile(r"https?://[^\"'\s<>]+?(/join/confirm/[A-Za-z0-9._-]+)")
PREFERENCES_LINK = re.compile(r"https?://[^\"'\s<>]+?(/u/[A-Za-z0-9._-]+)")


def _mail_to(address: str, subject_part: str, timeout_s: float = 60) -> dict:
    """The newest outbox email to `address` whose subject contains `subject_part`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with session_scope() as session:
            for mail in read_outbox(session, limit=200):
                if mail["to"] == address and subject_part in mail["subject"]:
                    return mail
        time.sleep(0.25)  # polling for the worker's outcome, not hiding a race
    raise AssertionError(f"no email about {subject_part!r} reached the outbox")


def _switch_on_welcome_with_a_coupon() -> None:
    with session_scope() as session:
        automation_config.ensure_defaults(session)
        automation_config.update(session, "welcome", {"channel": "email", "offer_valid_days": "30"})
        template_id = session.execute(
            select(Automation.template_campaign_id).where(Automation.kind == "welcome")
        ).scalar_one()
        session.execute(
            update(Campaign)
            .where(Campaign.id == template_id)
            .values(has_qr_code=True, offer_text="A free drink on your next visit")
        )
        session.commit()
        automation_config.set_enabled(session, "welcome", True)


def _switch_off_welcome() -> None:
    with session_scope() as session:
        automation_config.set_enabled(session, "welcome", False)


def test_a_guest_joins_from_the_table_tent_and_later_erases_themselves(
    app_url,  # noqa: ANN001
    browser,  # noqa: ANN001
    worker_process,  # noqa: ANN001
) -> None:
    stamp = int(time.time() * 1000)
    address, name = f"guest.{stamp}@example.com", f"Lena{stamp % 100000}"
    _switch_on_welcome_with_a_coupon()
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    guest = phone.new_page()
    try:
        # The QR on the table tent opens the signup page.
        guest.goto(f"{app_url}/join?src=table-tent")
        assert guest.locator("h1").first.is_visible()
        assert guest.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
        guest.fill("#first_name", name)
        guest.fill("#email", address)
        guest.check("#email_opt_in")
        guest.select_option("#birthday_month", "7")
        guest.fill("#birthday_day", "14")
        guest.click("#join")
        guest.wait_for_load_state()
        assert "Check your inbox" in guest.content()
        with session_scope() as session:  # nothing is subscribed before confirming
            assert (
                session.execute(select(Customer.id).where(Customer.first_name == name)).first()
                is None
            )

        # The confirmation email's link, opened on the phone: one tap confirms.
        confirmation = _mail_to(address, "onfirm")
        link = CONFIRM_LINK.search(confirmation["html"])
        assert link, "the confirmation email has a confirm link"
        guest.goto(f"{app_url}{link.group(1)}")  # the worker here does not know the test port
        guest.click("#confirm")
        guest.wait_for_load_state()
        assert "You are subscribed" in guest.content()
        with session_scope() as session:
            customer = session.execute(
                select(Customer).where(Customer.first_name == name)
            ).scalar_one()
            customer_id = customer.id
            assert customer.email_consent and (customer.birthday_month, customer.birthday_day) == (
                7,
                14,
            )
            proof = session.execute(
                select(ConsentEvent).where(ConsentEvent.customer_id == customer_id)
            ).scalar_one()
            assert (proof.source, proof.origin) == ("confirm_link", "table-tent")
            assert proof.proof_hash and proof.wording_version

        # An hour later the welcome automation runs: the welcome email carries a coupon.
        with session_scope() as session:
            report = automations.run(session, utcnow() + timedelta(hours=1, minutes=5))
        assert report.fired.get("welcome", 0) >= 1
        welcome = _mail_to(address, "Welcome")
        assert "A free drink on your next visit" in welcome["html"]
        assert 'class="coupon-code"' in welcome["html"]  # the guest's own coupon
        preferences = PREFERENCES_LINK.search(welcome["html"])
        assert preferences, "every marketing email links to the guest's preferences"

        # The guest opens their preferences from the email, downloads their data, then erases.
        # (The worker process here does not know the app's test port: the path is what counts.)
        preferences_url = f"{app_url}{preferences.group(1)}"
        guest.goto(preferences_url)
        assert name in guest.content()
        with guest.expect_download() as download:
            guest.click("#download")
        data = json.loads(open(download.value.path(), encoding="utf-8").read())
        assert address in json.dumps(data)
        assert any(e.get("origin") == "table-tent" for e in data["consent_history"])
        guest.click("#erase")
        guest.click("#erase-confirm")
        guest.wait_for_load_state()
        with session_scope() as session:
            erased = session.get(Customer, customer_id)
            assert erased is not None and erased.erased_at is not None
            assert (
                erased.email_bidx is None and erased.email_enc is None and erased.first_name == ""
            )
        guest.goto(preferences_url)  # the old link no longer opens anything personal
        assert name not in guest.content() and address not in guest.content()
    finally:
        _switch_off_welcome()
        phone.close()
