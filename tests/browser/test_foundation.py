"""The owner's first visit: a wrong password, then the dashboard and a healthy Settings page."""

from __future__ import annotations

from marketing_ui.core.customers import CustomerInput, create_customer
from marketing_ui.core.db import session_scope
from marketing_ui.core.system_status import dashboard_counts
from tests.browser.conftest import ADMIN, keep_screenshot, login, open_page


def test_login_dashboard_and_settings(app_url, page, worker_process) -> None:  # noqa: ANN001
    with session_scope() as session:
        for i in range(3):
            create_customer(
                session,
                CustomerInput(
                    first_name=f"Found{i}", email=f"found{i}@example.com", email_consent=i < 2
                ),
            )
    with session_scope() as session:
        expected = dashboard_counts(session)  # other stories may have added customers too
    assert expected.customers >= 3

    open_page(page, f"{app_url}/settings")
    page.wait_for_url("**/login**")  # the dashboard needs an account

    page.fill("#username", ADMIN[0])
    page.fill("#password", "definitely-wrong")
    page.click("#login-submit")
    assert "Wrong username or password" in page.locator("#login-error").inner_text()

    login(page, app_url, *ADMIN)
    page.wait_for_selector("#count-customers")
    page.wait_for_function(
        f"() => document.querySelector('#count-customers').innerText === '{expected.customers}'"
    )
    assert page.locator("#count-email").inner_text() == str(expected.email_subscribers)
    keep_screenshot(page, "dashboard.png")

    page.click("text=Settings")
    page.wait_for_selector("#status-database[data-ok='1']")
    assert page.locator("#status-workers").get_attribute("data-ok") == ""
    page.click("#run-health")
    page.wait_for_selector("#status-workers[data-ok='1']", timeout=30_000)
    assert "answered" in page.locator("#health-message").inner_text()
    keep_screenshot(page, "settings.png")
