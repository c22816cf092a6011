"""The owner writes a campaign: from the Monday special template, a new subject seen in the live
preview, a broken MJML edit refused with its line, a duplicate made and deleted again, and the
send page counting who would receive it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import insert

from marketing_ui.core.campaigns import create_campaign
from marketing_ui.core.customers import CustomerInput, create_customer
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Campaign, CampaignStatus, Delivery, DeliveryStatus, utcnow
from marketing_ui.core.rendering import TemplateError, check_template, load_template
from tests.browser.conftest import ADMIN, keep_screenshot, login, open_page

NAME = "Monday special — week 32"


def _seed_history() -> None:
    """A sent newsletter with results, so the list shows what a used account looks like."""
    with session_scope() as session:
        ids = [
            create_customer(
                session,
                CustomerInput(
                    first_name=f"Guest{i}",
                    email=f"guest{i}@example.com",
                    email_consent=i != 2,
                ),
            ).id
            for i in range(4)
        ]
        sent = create_campaign(session, "Spring newsletter", "newsletter")
        sent.status = CampaignStatus.SENT
        sent.sent_at = utcnow()
        session.add(sent)
        session.flush()
        now = utcnow()
        # Core insert naming only long-standing columns, so the seed does not depend on the
        # send pipeline's newest Delivery columns being in the migration yet.
        session.execute(
            insert(Delivery.__table__),
            [
                {
                    "campaign_id": sent.id,
                    "customer_id": customer_id,
                    "channel": "email",
                    "status": status.value,
                    "attempts": 1,
                    "error": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for customer_id, status in zip(
                    ids[:3],
                    [DeliveryStatus.DELIVERED, DeliveryStatus.SENT, DeliveryStatus.FAILED],
                    strict=True,
                )
            ],
        )


def _broken_mjml() -> tuple[str, int]:
    broken = load_template("monday_special").replace("</mj-column>", "</mj-section>", 1)
    with pytest.raises(TemplateError) as info:
        check_template(broken)
    assert info.value.line
    return broken, info.value.line


def test_write_preview_duplicate_and_delete_a_campaign(app_url, page) -> None:  # noqa: ANN001
    _seed_history()
    login(page, app_url, *ADMIN)

    # From the library: Monday special.
    open_page(page, f"{app_url}/campaigns/new")
    page.fill("#new-name", NAME)
    page.click("#template-monday_special")
    page.click("#create-campaign")
    page.wait_for_url(re.compile(r".*/campaigns/\d+/edit$"))
    campaign_id = int(page.url.rstrip("/").split("/")[-2])

    frame = page.locator("#edit-preview")
    page.wait_for_function(
        "() => (document.querySelector('#edit-preview')?.srcdoc || '').includes('Monday')"
    )
    assert frame.get_attribute("sandbox") == ""  # user HTML never runs script in the dashboard

    # A new subject shows in the preview as the sample customer would see it.
    page.fill("#edit-subject", "{{ first_name }}, pasta is on us")
    page.wait_for_function(
        "() => document.querySelector('#preview-subject').innerText.includes('Alex, pasta is on us')"
    )
    assert "pasta is on us" in (frame.get_attribute("srcdoc") or "")
    page.click("#save-campaign")
    page.wait_for_selector("#save-message")
    assert "version 2" in page.locator("#save-message").inner_text()
    keep_screenshot(page, "campaign_edit.png")

    # Broken MJML: the error names its line, live and on save, and nothing is stored.
    broken, line = _broken_mjml()
    page.fill("#mjml-source", broken)
    page.wait_for_selector("#preview-error")
    assert f"Line {line}" in page.locator("#preview-error").inner_text()
    page.click("#save-campaign")
    page.wait_for_selector("#save-error")
    assert f"Line {line}: MJML error" in page.locator("#save-error").inner_text()
    with session_scope() as session:
        stored = session.get(Campaign, campaign_id)
        assert stored.version == 2 and "</mj-column>" in stored.mjml_body
        assert stored.subject == "{{ first_name }}, pasta is on us"

    # The preview: mobile width, the plain-text alternative, and a test through the outbox.
    open_page(page, f"{app_url}/campaigns/{campaign_id}/preview")
    preview = page.locator("#preview-frame")
    page.wait_for_function(
        "() => (document.querySelector('#preview-frame')?.srcdoc || '').includes('Alex')"
    )
    assert preview.get_attribute("sandbox") == ""
    page.get_by_role("radio", name="Mobile").click()
    page.wait_for_function(
        "() => document.querySelector('#preview-frame').getBoundingClientRect().width === 375"
    )
    assert "unsubscribe" in page.locator("#preview-text").inner_text().lower()
    page.fill("#test-recipients", "owner@example.com")
    page.click("#send-test")
    page.wait_for_selector("#test-message")
    assert "test email sent" in page.locator("#test-message").inner_text()
    keep_screenshot(page, "campaign_preview.png")

    # Duplicate it from the list, then delete the copy.
    open_page(page, f"{app_url}/campaigns")
    row = page.locator(f".campaign-row[data-name='{NAME}']")
    row.locator(".duplicate-campaign").click()
    copy = page.locator(f".campaign-row[data-name='Copy of {NAME}']")
    copy.wait_for()
    assert copy.get_attribute("data-status") == "draft"
    sent_row = page.locator(".campaign-row[data-name='Spring newsletter']")
    assert "3" in sent_row.inner_text()  # recipients
    keep_screenshot(page, "campaigns.png")

    copy.locator(".delete-campaign").click()
    page.click("#confirm-delete")
    copy.wait_for(state="detached")
    assert "Deleted" in page.locator("#campaigns-message").inner_text()
    assert row.count() == 1

    # A campaign with history is archived, never erased.
    sent_row.locator(".delete-campaign").click()
    page.click("#confirm-archive")
    sent_row.wait_for(state="detached")
    page.click("#show-archived")
    page.locator(".campaign-row[data-name='Spring newsletter']").wait_for()

    # The send page counts who would receive it: three of four customers consented to email.
    open_page(page, f"{app_url}/campaigns/{campaign_id}/send")
    count = page.locator(".recipient-count").first
    count.wait_for()
    assert count.inner_text() == "3"
    assert page.locator("#schedule-timezone").inner_text() == "UTC"
    keep_screenshot(page, "campaign_send.png")
