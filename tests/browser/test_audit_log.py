"""The owner creates a campaign, then finds it in the audit log under their own name."""

from __future__ import annotations

import re
import uuid

from tests.browser.conftest import ADMIN, login, open_page


def test_a_campaign_created_in_the_browser_shows_in_the_audit_log(app_url, page) -> None:  # noqa: ANN001
    name = f"Audited {uuid.uuid4().hex[:6]}"
    login(page, app_url, *ADMIN)
    open_page(page, f"{app_url}/campaigns/new")
    page.fill("#new-name", name)
    page.click("#template-newsletter")
    page.click("#create-campaign")
    page.wait_for_url(re.compile(r".*/campaigns/\d+/edit$"))
    campaign_id = page.url.rstrip("/").split("/")[-2]

    open_page(page, f"{app_url}/audit")
    page.fill("#audit-object", campaign_id)
    row = page.locator(".audit-row", has_text="campaign.create")
    row.first.wait_for()
    text = row.first.inner_text()
    assert ADMIN[0] in text and f"campaign #{campaign_id}" in text
    assert "newsletter" in text
