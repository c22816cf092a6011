"""The owner builds "VIPs who get email" by clicking, watching the live count as rules change."""

from __future__ import annotations

import uuid

from marketing_ui.core.customers import CustomerInput, create_customer
from marketing_ui.core.db import session_scope
from marketing_ui.core.tags import create_tag
from tests.browser.conftest import ADMIN, login, open_page


def _wait_count(page, expected: int) -> None:  # noqa: ANN001
    """The live count has settled on `expected` (debounced, so it may pass through others)."""
    page.wait_for_function(
        "(n) => { const el = document.querySelector('#live-count');"
        " return !!el && el.dataset.counting !== '1' && el.innerText.trim() === String(n); }",
        arg=expected,
    )


def _pick(page, trigger, option: str) -> None:  # noqa: ANN001
    trigger.click()
    page.get_by_role("option", name=option, exact=True).click()


def test_build_segment_with_live_count(app_url, page) -> None:  # noqa: ANN001
    run = uuid.uuid4().hex[:6]
    tag_name = f"vip {run}"
    with session_scope() as session:
        vip = create_tag(session, tag_name, "amber").id
        # 3 VIPs (2 of them email subscribers) and 2 subscribers without the tag.
        for i, (is_vip, email_ok) in enumerate(
            [(True, True), (True, True), (True, False), (False, True), (False, True)]
        ):
            create_customer(
                session,
                CustomerInput(
                    first_name=f"Seg{run}",
                    last_name=f"N{i}",
                    email=f"seg{i}.{run}@example.com",
                    email_consent=email_ok,
                    tag_ids=[vip] if is_vip else [],
                ),
            )

    login(page, app_url, *ADMIN)
    open_page(page, f"{app_url}/segments")
    page.click("#new-segment")
    page.fill("#segment-name", f"VIPs who get email {run}")

    # Rule 1: has any of the tag "vip …".
    page.click("#add-rule")
    page.wait_for_selector(".rule-item")
    assert "pick at least one tag" in page.locator(".rule-problem").inner_text()
    page.locator(".rule-item").first.locator(f"#rule-tag-vip-{run}").click()
    _wait_count(page, 3)
    assert page.locator("#segment-sample .sample-row").count() == 3

    # Rule 2: email consent. The count narrows to the two VIPs who said yes.
    page.click("#add-rule")
    second = page.locator(".rule-item").nth(1)
    _pick(page, second.locator(".rule-type"), "Consent")
    _wait_count(page, 2)

    # Removing it widens the count again; NOT on it gives the VIP who did not subscribe.
    second.locator(".rule-not").click()
    _wait_count(page, 1)
    second.locator(".rule-remove").click()
    _wait_count(page, 3)
    page.click("#add-rule")
    _pick(page, page.locator(".rule-item").nth(1).locator(".rule-type"), "Consent")
    _wait_count(page, 2)

    page.click("#save-segment")
    row = page.locator(".segment-row", has_text=f"VIPs who get email {run}")
    row.wait_for()
    assert row.locator(".segment-count").inner_text() == "2"
    assert "saved" in page.locator("#segments-message").inner_text()

    # Reopening shows the same rules; the count is still live.
    row.locator(".segment-edit").click()
    _wait_count(page, 2)
    assert page.locator(".rule-item").count() == 2
    assert page.locator(f"#rule-tag-vip-{run}").get_attribute("data-selected") == "1"
