"""The owner opens Automations, sets Birthday to three days before, switches it on and sees it on."""

from __future__ import annotations

from marketing_ui.core.automations import config
from marketing_ui.core.db import session_scope
from tests.browser.conftest import ADMIN, login, open_page, wait_ready


def test_owner_sets_up_the_birthday_automation(app_url, page) -> None:  # noqa: ANN001
    with session_scope() as session:
        config.ensure_defaults(session)
        config.set_enabled(session, "birthday", False)
        config.update(session, "birthday", {"days_before": "7"})
    login(page, app_url, *ADMIN)
    open_page(page, f"{app_url}/automations")
    assert page.get_attribute("#automation-card-birthday", "data-enabled") == ""
    assert "7 days before the birthday" in page.inner_text("#automation-card-birthday")

    page.click("#automation-link-birthday")
    wait_ready(page, "/automations/birthday")
    page.fill("#automation-days_before", "3")
    page.click("#automation-save")
    page.wait_for_selector("#automation-message")
    page.click("#automation-enabled")
    page.wait_for_selector("text=Birthday is on.")

    open_page(page, f"{app_url}/automations")
    page.wait_for_selector("#automation-card-birthday[data-enabled='1']")
    assert "3 days before the birthday" in page.inner_text("#automation-card-birthday")
    with session_scope() as session:
        stored = config.get(session, "birthday")
        assert stored.enabled and stored.days_before == 3
        config.set_enabled(session, "birthday", False)  # leave the shared database as found
