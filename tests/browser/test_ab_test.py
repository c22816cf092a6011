"""The owner sets up an A/B test in the editor (a copy of A is refused by name, a changed subject
saves), then, while the test runs, reads each variant's numbers and sends the best to the rest.

AB_SHOTS=folder keeps screenshots of the editor's section and the analytics card."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from marketing_ui.core import ab_tests, campaigns
from marketing_ui.core.ab_tests import AbSettings, VariantDraft
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Campaign, Customer, Delivery, Event
from tests.browser.conftest import ADMIN, login, open_page


def _shot(page, locator: str, name: str) -> None:  # noqa: ANN001
    folder = os.environ.get("AB_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.locator(locator).screenshot(path=str(Path(folder) / f"{name}.png"))


def _testing_campaign() -> int:
    """A test running on 40 recipients (A, B, C): B gets more clicks; 20 more wait for the winner."""
    sent = datetime.now(UTC) - timedelta(hours=2)
    with session_scope() as session:
        made = campaigns.create_campaign(session, "Pasta night", "monday_special", "email")
        made_id = int(made.id)  # type: ignore[arg-type]
    with session_scope() as session:
        campaign = session.get(Campaign, made_id)
        assert campaign is not None
        ab_tests.save_test(
            session, made_id, AbSettings(40, "clicks", 24),
            [VariantDraft(x, f"Pasta night {x}", "", campaign.mjml_body) for x in "BC"],
        )  # fmt: skip
        campaign.status, campaign.sent_at, campaign.ab_phase = "sending", sent, "testing"
        session.add(campaign)
        ids = [v.id for v in ab_tests.variants(session, made_id)]
        for i in range(40):
            customer = Customer(first_name=f"Guest{i}")
            session.add(customer)
            session.flush()
            d = Delivery(campaign_id=made_id, customer_id=customer.id, channel="email",
                         status="delivered", sent_at=sent, variant_id=ids[i % 3],
                         created_at=sent)  # fmt: skip
            session.add(d)
            session.flush()
            if (i % 3 == 1 and i < 30) or i in (0, 2):
                session.add(Event(campaign_id=made_id, delivery_id=d.id, type="clicked",
                                  customer_id=customer.id))  # fmt: skip
        for i in range(20):
            session.add(Customer(first_name=f"Later{i}", email_consent=False))
    return made_id


def test_the_owner_sets_up_a_test_and_sends_the_best_variant_to_the_rest(
    page,  # noqa: ANN001
    app_url: str,
) -> None:
    with session_scope() as session:
        draft = campaigns.create_campaign(session, "Soup Tuesday", "monday_special", "email")
        draft_id = int(draft.id)  # type: ignore[arg-type]
    login(page, app_url, *ADMIN)
    open_page(page, f"{app_url}/campaigns/{draft_id}/edit")
    page.click("#ab-add-variant")
    page.wait_for_selector("#ab-variant-B")
    page.fill("#ab-percent", "20")
    page.fill("#ab-window", "6")
    page.click("#ab-save")
    page.wait_for_selector(".ab-variant-error")
    assert "Variant B is the same as A" in page.inner_text(".ab-variant-error")
    subject = page.locator("#ab-variant-B input.ab-subject, #ab-variant-B .ab-subject input")
    subject.first.fill("Soup and bread, Tuesday only")
    page.click("#ab-save")
    page.wait_for_selector("#ab-message")
    assert "20% of the audience, 2 variants" in page.inner_text("#ab-message")
    _shot(page, "#ab-test-card", "ab_editor")
    with session_scope() as session:
        stored = session.get(Campaign, draft_id)
        assert stored is not None and stored.ab_test_percent == 20

    campaign_id = _testing_campaign()
    open_page(page, f"{app_url}/campaigns/{campaign_id}/analytics")
    page.wait_for_selector("#ab-card .ab-row")
    rows = page.locator("#ab-card .ab-row")
    assert rows.count() == 3
    assert "best so far" in rows.nth(1).inner_text()  # B: 10 of 13 clicked
    assert "Testing on 40%" in page.inner_text("#ab-phase")
    page.wait_for_selector("#ab-chart .main-svg")
    _shot(page, "#ab-card", "ab_analytics")
    rows.nth(1).locator(".ab-pick").click()
    page.wait_for_selector("#ab-message")
    assert "Variant B is going to" in page.inner_text("#ab-message")
    with session_scope() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None and campaign.ab_phase == "decided"
        winner = (
            session.execute(
                select(Delivery.variant_id).where(
                    Delivery.campaign_id == campaign_id, Delivery.created_at > campaign.sent_at
                )
            )
            .scalars()
            .all()
        )
        assert set(winner) <= {campaign.ab_winner_variant_id}
