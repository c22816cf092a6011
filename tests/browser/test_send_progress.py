"""The owner watches a send go out: the progress page counts up to 100% by itself, and the
Outbox shows what the development provider stored."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from marketing_ui.core import sending
from marketing_ui.core.app_settings import SendingLimits, save_sending_limits, sending_limits
from marketing_ui.core.audience import Audience
from marketing_ui.core.customers import CustomerInput, create_customer
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Campaign
from marketing_ui.core.rendering import load_template
from tests.browser.conftest import ADMIN, login, open_page

RECIPIENTS = 300


def _seed_campaign() -> int:
    """300 customers and a scheduled campaign (the page is open before the send starts)."""
    with session_scope() as session:
        for i in range(RECIPIENTS):
            create_customer(
                session,
                CustomerInput(
                    first_name=f"Fan{i}", email=f"progress{i}@example.com", email_consent=True
                ),
            )
        campaign = Campaign(
            name="Friday tasting",
            channel="email",
            subject="See you Friday, {{ first_name | default('there') }}",
            mjml_body=load_template("blank"),
            audience_json=Audience().to_json(),
            status="scheduled",
            scheduled_at=datetime.now(UTC) + timedelta(days=1),
        )
        session.add(campaign)
        session.flush()
        assert campaign.id is not None
        return campaign.id


def test_progress_view_reaches_100_percent_without_reload(app_url, page, worker_process) -> None:  # noqa: ANN001
    campaign_id = _seed_campaign()
    with session_scope() as session:
        saved = sending_limits(session)
        # Slow enough to watch (about 3 s for 300), shared by every worker through Redis.
        save_sending_limits(session, SendingLimits(email_requests_per_s=10, emails_per_request=10))
    try:
        login(page, app_url, *ADMIN)
        open_page(page, f"{app_url}/campaigns/{campaign_id}/progress")
        page.wait_for_selector("#progress-status")
        assert page.inner_text("#progress-status") == "scheduled"
        page.evaluate("window.__sameDocument = true")  # a reload would drop this

        with session_scope() as session:
            result = sending.start_send(session, campaign_id)
        assert result.created
        total = sum(result.recipients.values())
        assert total >= RECIPIENTS

        assert page.inner_text("#progress-percent") == "–"  # nobody to send to yet: no 100%
        seen: set[str] = set()
        rates: set[str] = set()
        for _ in range(240):
            seen.add(page.inner_text("#progress-percent"))
            if page.inner_text("#progress-status") == "sending":
                rates.add(page.inner_text("#progress-rate"))
            if page.inner_text("#progress-status") == "sent":
                break
            page.wait_for_timeout(100)
        page.wait_for_function(
            "() => document.querySelector('#progress-percent').innerText.startsWith('100')"
        )
        assert page.inner_text("#progress-status") == "sent"
        assert page.inner_text("#progress-sent") == str(total)
        assert page.inner_text("#progress-remaining") == "0"
        assert page.evaluate("window.__sameDocument") is True
        assert any(re.match(r"^(?!0%|100)\d", s) for s in seen), f"no intermediate value: {seen}"
        # While sending, the pace is a real number of messages per second, never 0.0.
        assert any(re.fullmatch(r"[1-9][\d,.]*", r) for r in rates), f"no real rate: {rates}"
        assert "0.0" not in rates

        open_page(page, f"{app_url}/outbox")
        page.wait_for_selector(".outbox-row")
        page.locator(".outbox-row").first.click()
        page.wait_for_selector("#outbox-frame")
        assert page.get_attribute("#outbox-frame", "sandbox") == ""
        shown = page.get_attribute("#outbox-frame", "srcdoc") or ""
        assert "/t/o/" not in shown and "/t/c/" not in shown  # looking is not opening
        assert "Friday" in page.inner_text("#outbox-subject")
        assert "@example.com" in page.inner_text("#outbox-to")
    finally:
        with session_scope() as session:
            save_sending_limits(session, saved)
