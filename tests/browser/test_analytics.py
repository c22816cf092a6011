"""The owner checks how last week's campaign did: the overview lists it, its page shows the funnel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Campaign, Customer, Delivery, Event
from tests.browser.conftest import ADMIN, login, open_page


def _seed_sent_campaign() -> int:
    """12 email + 4 SMS recipients; 6 readers (one opens three times), 4 clickers, a bounce and
    a failure (never sent)."""
    sent = datetime.now(UTC) - timedelta(days=2)
    with session_scope() as session:
        campaign = Campaign(name="Monday special", channel="both", status="sent", sent_at=sent)
        session.add(campaign)
        session.flush()
        deliveries = []
        for i in range(16):
            customer = Customer(first_name=f"Guest{i}", created_at=sent - timedelta(days=i % 5))
            session.add(customer)
            session.flush()
            channel = "email" if i < 12 else "sms"
            status = {10: "failed", 11: "bounced"}.get(i, "delivered")
            d = Delivery(
                campaign_id=campaign.id,
                customer_id=customer.id,
                channel=channel,
                status=status,
                error={"failed": "invalid address", "bounced": "mailbox does not exist"}.get(
                    status, ""
                ),
                sent_at=None if status == "failed" else sent,
            )
            session.add(d)
            session.flush()
            deliveries.append(d)
        events = []
        for i, d in enumerate(deliveries[:6]):
            for k in range(3 if i == 0 else 1):
                events.append((d, "opened", "", sent + timedelta(hours=1 + i, minutes=k)))
        for i, d in enumerate(deliveries[:3]):
            events.append((d, "clicked", "https://example.com/menu", sent + timedelta(hours=2 + i)))
        events.append(
            (deliveries[12], "clicked", "https://example.com/sms", sent + timedelta(hours=3))
        )
        session.add_all(
            Event(
                campaign_id=campaign.id,
                delivery_id=d.id,
                customer_id=d.customer_id,
                channel=d.channel,
                type=typ,
                detail=detail,
                created_at=at,
            )
            for d, typ, detail, at in events
        )
        return campaign.id


def test_overview_and_campaign_funnel(app_url, page) -> None:  # noqa: ANN001
    campaign_id = _seed_sent_campaign()
    login(page, app_url, *ADMIN)

    open_page(page, f"{app_url}/analytics")
    page.wait_for_selector(".campaign-row")
    row = page.locator(".campaign-row", has_text="Monday special")
    assert row.locator("td").nth(2).inner_text() == "15"  # 16 targeted, one failed unsent
    page.wait_for_selector("#trend-chart .js-plotly-plot")

    row.locator("a").click()
    page.wait_for_url(f"**/campaigns/{campaign_id}/analytics")
    page.wait_for_function("() => document.querySelector('#stat-opened')?.innerText === '6'")
    assert page.locator("#stat-targeted").inner_text() == "16"
    assert page.locator("#stat-sent").inner_text() == "15"
    assert page.locator("#stat-clicked").inner_text() == "4"
    assert "6 human · 0 machine only" in page.locator("#stat-opened").locator("..").inner_text()
    assert "Unique opens count each recipient once" in page.locator("#unique-note").inner_text()
    page.wait_for_selector("#funnel-chart .js-plotly-plot")
    page.wait_for_selector("#hourly-chart .js-plotly-plot")
    assert page.locator("#channels-table").is_visible()  # email and SMS side by side
    assert "mailbox does not exist" in page.locator("#failures-table").inner_text()
    assert page.locator(".link-row").first.inner_text().startswith("https://example.com/menu")

    # The channel filter narrows every number to SMS.
    page.click("#filter-channel")
    page.get_by_role("option", name="sms").click()
    page.wait_for_function("() => document.querySelector('#stat-sent')?.innerText === '4'")
    # SMS cannot be opened: "–" and why, not a misleading 0.
    assert page.locator("#stat-opened").inner_text() == "–"
    assert "SMS has no opens" in page.locator("#stat-opened").locator("..").inner_text()
