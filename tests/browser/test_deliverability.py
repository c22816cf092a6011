"""A send that drew spam complaints paused itself: the owner sees why on the progress page and
in the campaign list, with the live rates; the guard's limits are set on the Settings page."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import delete, select

from marketing_ui.core import deliverability, events
from marketing_ui.core.app_settings import DeliverabilityLimits, deliverability_limits
from marketing_ui.core.clock import utcnow
from marketing_ui.core.customers import delete_customers
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Campaign, Customer, Delivery, Suppression
from tests.browser.conftest import ADMIN, login, open_page

MESSAGE = (
    "Paused automatically: 0.7% of recipients marked it as spam (limit 0.3%). "
    "Check the content and the list before resuming."
)


def _paused_campaign() -> tuple[int, str]:
    """300 emails accepted, 2 complaints: the guard pauses it, as on a live send."""
    name = f"Autumn tasting {uuid.uuid4().hex[:6]}"
    with session_scope() as session:
        campaign = Campaign(name=name, channel="email", status="sending", sent_at=utcnow())
        session.add(campaign)
        session.flush()
        ids = []
        for _ in range(300):
            customer = Customer(email_bidx=secrets.token_hex(32))
            session.add(customer)
            session.flush()
            delivery = Delivery(
                campaign_id=campaign.id,
                customer_id=customer.id,
                channel="email",
                status="delivered",
                provider_message_id=secrets.token_hex(8),
                sent_at=utcnow(),
            )
            session.add(delivery)
            session.flush()
            ids.append(delivery.id)
        for did in ids[:2]:
            ref = events.delivery_ref(session, did)
            events.apply_complaint(session, ref, provider_event_id=f"c-{uuid.uuid4().hex}")
        session.commit()
        assert deliverability.enforce(session, campaign.id) is not None
        return campaign.id, name


def remove_campaign(campaign_id: int) -> None:
    """Erase a seeded campaign with its recipients and their suppressions: the browser tests
    share one database, and others count customers."""
    with session_scope() as session:
        customers = list(
            session.execute(
                select(Delivery.customer_id).where(Delivery.campaign_id == campaign_id)
            ).scalars()
        )
        bidxs = list(
            session.execute(select(Customer.email_bidx).where(Customer.id.in_(customers))).scalars()
        )
        delete_customers(session, customers)
        session.execute(delete(Suppression).where(Suppression.value_bidx.in_(bidxs)))
        session.execute(delete(Campaign).where(Campaign.id == campaign_id))


@pytest.fixture
def paused_campaign() -> Iterator[tuple[int, str]]:
    campaign_id, name = _paused_campaign()
    yield campaign_id, name
    remove_campaign(campaign_id)


def test_an_automatic_pause_says_why_on_the_progress_page_and_the_list(
    app_url, page, paused_campaign
) -> None:  # noqa: ANN001
    campaign_id, name = paused_campaign
    login(page, app_url, *ADMIN)

    open_page(page, f"{app_url}/campaigns/{campaign_id}/progress")
    page.wait_for_selector("#auto-pause-reason")
    assert page.inner_text("#auto-pause-reason") == MESSAGE
    assert page.inner_text("#progress-status") == "paused"
    assert page.is_visible("#btn-resume")  # resuming is the owner's decision
    health = page.inner_text("#deliverability")
    assert "Hard bounces 0 (0.0%)" in health
    assert "Spam complaints 2 (0.7%)" in health

    open_page(page, f"{app_url}/campaigns")
    row = page.locator(f".campaign-row[data-name='{name}']")
    assert row.locator(".campaign-pause-note").inner_text() == MESSAGE


def test_guard_limits_are_saved_and_wrong_ones_are_named(app_url, page) -> None:  # noqa: ANN001
    with session_scope() as session:
        before = deliverability_limits(session)
    login(page, app_url, *ADMIN)
    open_page(page, f"{app_url}/settings")
    try:
        page.fill("#setting-min_sample", "0")
        page.click("#save-guard")
        page.wait_for_selector("#guard-settings [role='alert'], #guard-settings .rt-CalloutRoot")
        assert "Judge after messages sent: expected a whole number from 1 to 1,000,000." in (
            page.inner_text("#guard-settings")
        )
        page.fill("#setting-min_sample", "250")
        page.fill("#setting-hard_bounce_limit_pct", "4")
        page.click("#save-guard")
        page.wait_for_function(
            "() => document.querySelector('#guard-settings').innerText"
            ".includes('Deliverability limits saved')"
        )
        with session_scope() as session:
            assert deliverability_limits(session) == DeliverabilityLimits(0.3, 4.0, 250)
    finally:
        with session_scope() as session:
            from marketing_ui.core.app_settings import update_deliverability_limits

            update_deliverability_limits(session, {k: str(v) for k, v in before.__dict__.items()})
