"""After a real browser session, the state store holds no plaintext PII and no session token."""

from __future__ import annotations

import time
import uuid

import redis

from marketing_ui.core.config import PROJECT_ROOT, get_settings
from marketing_ui.core.customers import CustomerInput, create_customer
from marketing_ui.core.db import session_scope
from tests.browser.conftest import ADMIN, login, open_page

STATE_KEY_PATTERN = "*reflex___state____state*"


def test_browsing_customers_leaves_no_plaintext_in_redis_or_on_disk(app_url, page) -> None:  # noqa: ANN001
    started = time.time()
    run = uuid.uuid4().hex[:8]
    email, phone = f"store.{run}@example.com", "+14155550177"
    with session_scope() as session:
        create_customer(
            session,
            CustomerInput(first_name="Stored", last_name=run, email=email, phone=phone),
        )
    login(page, app_url, *ADMIN)
    open_page(page, f"{app_url}/customers")
    page.fill("#customer-search", email)
    page.wait_for_selector(f"text={email}")  # decrypted on screen: it was in page state
    page.locator(".customer-row", has_text=run).click()
    page.wait_for_selector("#detail-email")
    assert page.locator("#detail-email").inner_text() == email
    open_page(page, f"{app_url}/redeem")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "mk_session")

    client = redis.Redis.from_url(get_settings().redis_url)
    keys = list(client.scan_iter(match=STATE_KEY_PATTERN, count=1000))
    assert keys, "page state should be in Redis (REDIS_URL is set)"
    values = [v for v in client.mget(keys) if v]
    assert values and all(v.startswith(b"MKS1") for v in values)
    for secret in (email, phone, phone.lstrip("+"), token, run):
        assert not any(secret.encode() in v for v in values), secret
    assert all(0 < client.ttl(k) <= 3600 for k in keys[:50])  # page state expires

    states = PROJECT_ROOT / ".states"
    assert not states.exists() or not any(
        p.stat().st_mtime >= started for p in states.rglob("*") if p.is_file()
    )
