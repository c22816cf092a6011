"""The owner sets the provider's limits in its own terms and sees what they allow."""

from __future__ import annotations

from marketing_ui.core.app_settings import SendingLimits, save_sending_limits, sending_limits
from marketing_ui.core.db import session_scope
from tests.browser.conftest import ADMIN, login, open_page


def test_limits_in_provider_terms_with_their_ceiling_and_clear_refusals(app_url, page) -> None:  # noqa: ANN001
    with session_scope() as session:
        saved = sending_limits(session)
        save_sending_limits(session, SendingLimits())
    try:
        login(page, app_url, *ADMIN)
        open_page(page, f"{app_url}/settings")
        assert "up to 500 emails/s (5 requests × 100)" in page.inner_text("#ceiling-email")
        assert "60 SMS segments a minute" in page.inner_text("#ceiling-sms")

        page.fill("#setting-email_requests_per_s", "2")
        page.fill("#setting-emails_per_request", "50")
        page.click("#save-limits")
        page.wait_for_function(
            "() => document.querySelector('#ceiling-email').innerText.includes('100 emails/s')"
        )
        with session_scope() as session:
            stored = sending_limits(session)
        assert (stored.email_requests_per_s, stored.emails_per_request) == (2, 50)

        page.fill("#setting-emails_per_request", "500")
        page.click("#save-limits")
        page.wait_for_selector("text=Emails per request (batch size): expected 1 to 100")
        with session_scope() as session:
            assert sending_limits(session).emails_per_request == 50  # nothing stored
    finally:
        with session_scope() as session:
            save_sending_limits(session, saved)
