"""The owner works from a phone (390×844) and a laptop (1280×800): every control the pages need is
on screen, nothing makes the page scroll sideways, and the sidebar runs down the whole page."""

from __future__ import annotations

import pytest

from marketing_ui.core.campaigns import create_campaign
from marketing_ui.core.db import session_scope
from marketing_ui.core.segments import create_segment
from tests.browser.conftest import ADMIN, TIMEOUT_MS, login, open_page

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
LONG_NAME = "Monday special for our most loyal regulars — week 32"


def _seed() -> int:
    """A campaign with a long name (its status badge must still fit) and a saved segment."""
    with session_scope() as session:
        campaign = create_campaign(session, LONG_NAME, "monday_special")
        create_segment(
            session,
            f"Email subscribers who have been with us longer than a year ({campaign.id})",
            {"op": "and", "rules": [{"type": "consent", "channel": "email", "value": True}]},
        )
        return campaign.id


def assert_fits(page, selector: str, width: int) -> None:  # noqa: ANN001
    """Every element matching `selector` is visible and wholly inside the screen's width."""
    found = page.locator(selector)
    found.first.wait_for()
    assert found.count() > 0, selector
    for i in range(found.count()):
        element = found.nth(i)
        assert element.is_visible(), f"{selector} #{i} is hidden"
        box = element.bounding_box()
        assert box is not None, f"{selector} #{i} has no box"
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (
            f"{selector} #{i} spans {box['x']:.0f}..{box['x'] + box['width']:.0f} of {width}"
        )


def assert_no_sideways_scroll(page, width: int) -> None:  # noqa: ANN001
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} is {scroll_width}px wide on a {width}px screen"


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_every_named_control_is_on_screen(app_url, browser, viewport) -> None:  # noqa: ANN001
    campaign_id = _seed()
    width = viewport["width"]
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        login(page, app_url, *ADMIN)

        # The editor: Save stays reachable however narrow the screen.
        open_page(page, f"{app_url}/campaigns/{campaign_id}/edit")
        page.wait_for_selector("#renders-ok")
        assert_fits(page, "#save-campaign", width)
        assert_fits(page, "#review-send", width)
        assert_no_sideways_scroll(page, width)

        # The send page: the status badge beside a long name, and the segment and tag boxes.
        open_page(page, f"{app_url}/campaigns/{campaign_id}/send")
        page.wait_for_selector(".recipient-count")
        assert_fits(page, "#send-status", width)
        assert_fits(page, ".audience-choice", width)
        assert_fits(page, ".audience-choice [role='checkbox']", width)
        assert_fits(page, "#send-now", width)
        assert_fits(page, "#schedule-send", width)
        assert_no_sideways_scroll(page, width)

        # Settings: the health check button.
        open_page(page, f"{app_url}/settings")
        page.wait_for_selector("#status-database")
        assert_fits(page, "#run-health", width)
        assert_no_sideways_scroll(page, width)

        # Segments: "New segment", then a group with a rule: its header and remove buttons.
        open_page(page, f"{app_url}/segments")
        page.wait_for_selector(".segment-row")
        assert_fits(page, "#new-segment", width)
        assert_no_sideways_scroll(page, width)
        page.click("#new-segment")
        page.click("#add-group")  # a group comes with its first rule
        page.locator(".group-add-rule").first.click()
        page.click("#add-rule")
        page.wait_for_function("() => document.querySelectorAll('.rule-item').length === 3")
        assert_fits(page, ".group-header", width)
        assert_fits(page, ".group-add-rule", width)
        assert_fits(page, ".rule-remove", width)  # the group's and each rule's
        assert page.locator(".rule-remove").count() == 4
        assert_fits(page, "#save-segment", width)
        assert_no_sideways_scroll(page, width)
    finally:
        context.close()


def test_the_sidebar_runs_down_a_long_page(app_url, browser) -> None:  # noqa: ANN001
    campaign_id = _seed()
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        login(page, app_url, *ADMIN)
        open_page(page, f"{app_url}/campaigns/{campaign_id}/edit")
        page.wait_for_selector("#renders-ok")
        page_height = page.evaluate("document.documentElement.scrollHeight")
        assert page_height > LAPTOP["height"] * 1.5  # a long page indeed

        sidebar = page.locator("#sidebar").bounding_box()
        assert sidebar is not None and sidebar["height"] >= page_height - 1

        page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        page.wait_for_function("() => window.scrollY > 0")
        logout = page.locator("#logout").bounding_box()  # the links stay in view while scrolling
        assert logout is not None and 0 <= logout["y"] <= LAPTOP["height"] - logout["height"]
    finally:
        context.close()
