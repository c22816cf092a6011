"""The owner writes a campaign: from the Monday special template, a new subject seen in the live
preview, a broken MJML edit refused with its line, a duplicate made and deleted again, and the
send page counting who would receive it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import insert

from marketing_ui.core.audience import Audience
from marketing_ui.core.campaigns import create_campaign
from marketing_ui.core.clock import utcnow
from marketing_ui.core.customers import CustomerInput, create_customer
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from marketing_ui.core.rendering import TemplateError, check_template, load_template
from tests.browser.conftest import ADMIN, login, open_page

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
    # The template promises a personal coupon: it starts switched on, with an offer and expiry.
    assert page.get_attribute("#edit-has-qr", "data-state") == "checked"
    assert page.input_value("#edit-offer-text") == "2-for-1 fresh pasta, all day Monday"
    assert page.input_value("#edit-offer-expires") != ""
    page.wait_for_function(
        "() => (document.querySelector('#edit-preview')?.srcdoc || '')"
        ".includes('YOUR PERSONAL COUPON')"
    )

    # A new subject shows in the preview as the sample customer would see it.
    page.fill("#edit-subject", "{{ first_name }}, pasta is on us")
    page.wait_for_function(
        "() => document.querySelector('#preview-subject').innerText.includes('Alex, pasta is on us')"
    )
    assert "pasta is on us" in (frame.get_attribute("srcdoc") or "")
    page.click("#save-campaign")
    page.wait_for_selector("#save-message")
    assert "version 2" in page.locator("#save-message").inner_text()

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

    # Duplicate it from the list, then delete the copy.
    open_page(page, f"{app_url}/campaigns")
    row = page.locator(f".campaign-row[data-name='{NAME}']")
    row.locator(".duplicate-campaign").click()
    copy = page.locator(f".campaign-row[data-name='Copy of {NAME}']")
    copy.wait_for()
    assert copy.get_attribute("data-status") == "draft"
    sent_row = page.locator(".campaign-row[data-name='Spring newsletter']")
    assert "3" in sent_row.inner_text()  # recipients

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


def _no_paragraph_in_a_paragraph(page) -> None:  # noqa: ANN001
    """React reports <p> (or a block) inside <p> as an error; the DOM shows it in any build."""
    nested = page.evaluate(
        "() => [...document.querySelectorAll('p p, p div')].map(e => e.outerHTML.slice(0, 80))"
    )
    assert nested == [], nested


def test_each_channel_shows_its_own_fields_and_a_sent_campaign_is_not_offered_for_sending(
    app_url,  # noqa: ANN001
    page,  # noqa: ANN001
) -> None:
    with session_scope() as session:
        texts = create_campaign(session, "Text us tonight", "blank", channel="sms")
        sent = create_campaign(session, "Sent last week", "newsletter")
        sent.status = CampaignStatus.SENT
        sent.sent_at = utcnow()
        session.add(sent)
        texts_id, sent_id = texts.id, sent.id
    login(page, app_url, *ADMIN)

    # An SMS-only campaign: no subject, preheader, sender, open tracking or images.
    open_page(page, f"{app_url}/campaigns/{texts_id}/edit")
    page.wait_for_selector("#sms-body")
    for email_only in (
        "#edit-subject",
        "#edit-preheader",
        "#edit-from-name",
        "#edit-from-email",
        "#edit-track",
        "#images-card",
        "#mjml-source",
    ):
        assert page.locator(email_only).count() == 0, email_only
    assert page.locator("#edit-has-qr").is_visible()
    assert page.locator("#review-send").is_visible()  # a draft can still be sent

    # Switching it to email brings the email fields and takes the SMS text away.
    page.click("#edit-channel")
    page.get_by_role("option", name="Email", exact=True).click()
    page.wait_for_selector("#edit-subject")
    assert page.locator("#images-card").is_visible() and page.locator("#sms-body").count() == 0

    # A sent campaign offers its progress and analytics, never "Review and send".
    for where in ("edit", "preview"):
        open_page(page, f"{app_url}/campaigns/{sent_id}/{where}")
        page.wait_for_selector("#view-progress")
        assert page.locator("#review-send").count() == 0, where
        assert page.locator("#view-analytics").is_visible()


def test_send_a_test_reads_the_box_as_the_owner_typed_it(app_url, page) -> None:  # noqa: ANN001
    with session_scope() as session:
        email_id = create_campaign(session, "Test box email", "newsletter").id
        sms = create_campaign(session, "Test box SMS", "blank", channel="sms")
        sms.sms_body = "Hi {{ first_name | default('there') }}, pasta night!"
        session.add(sms)
        sms_id = sms.id
    login(page, app_url, *ADMIN)

    open_page(page, f"{app_url}/campaigns/{email_id}/preview")
    page.wait_for_selector("#send-test")
    page.click("#send-test")  # an empty box
    page.wait_for_selector("#test-error")
    assert "Enter an email address or a phone number" in page.inner_text("#test-error")
    page.fill("#test-recipients", "not-an-address")
    page.click("#send-test")
    page.wait_for_function(
        "() => document.querySelector('#test-error').innerText.includes('not-an-address')"
    )
    assert page.inner_text("#test-error") == "“not-an-address” is not an email address."

    # The placeholder's own phone format is one recipient on an SMS campaign.
    open_page(page, f"{app_url}/campaigns/{sms_id}/preview")
    page.wait_for_selector("#send-test")
    page.fill("#test-recipients", "+1 415 555 0199")
    page.click("#send-test")
    page.wait_for_selector("#test-message")
    assert page.inner_text("#test-message").splitlines() == ["+1 415 555 0199: test sms sent."]


def test_confirmation_dialogs_hold_no_paragraph_in_a_paragraph(app_url, page) -> None:  # noqa: ANN001
    with session_scope() as session:
        create_customer(
            session,
            CustomerInput(first_name="Dia", email="dialog@example.com", email_consent=True),
        )
        campaign = create_campaign(session, "Dialog check", "monday_special")
        campaign.audience_json = Audience().to_json()
        session.add(campaign)
        campaign_id = campaign.id
    login(page, app_url, *ADMIN)

    open_page(page, f"{app_url}/campaigns/{campaign_id}/send")
    page.wait_for_selector("#send-now:not([disabled])")
    page.click("#send-now")
    page.wait_for_selector("#confirm-send")
    assert "Dialog check" in page.locator("[role='alertdialog']").inner_text()
    _no_paragraph_in_a_paragraph(page)
    page.get_by_role("button", name="Cancel").click()

    open_page(page, f"{app_url}/campaigns")
    row = page.locator(".campaign-row[data-name='Dialog check']")
    row.locator(".delete-campaign").click()
    page.wait_for_selector("[role='alertdialog']")
    _no_paragraph_in_a_paragraph(page)
