"""The owner's first visit: a wrong password, then the dashboard and a healthy Settings page."""

from __future__ import annotations

import re
import subprocess
import time

from rq import Worker

from marketing_ui.core.customers import CustomerInput, create_customer
from marketing_ui.core.db import session_scope
from marketing_ui.core.jobs import DEFAULT
from marketing_ui.core.redis_client import get_redis
from marketing_ui.core.system_status import dashboard_counts
from marketing_ui.infra.rq_jobs import get_queue
from tests.browser.conftest import ADMIN, login, open_page
from workers.health import heartbeat_key

REGISTER_WAIT_S = 60


def _wait_until_registered(worker: subprocess.Popen) -> None:
    """The worker process has started and registered with RQ (a condition, not a sleep)."""
    deadline = time.monotonic() + REGISTER_WAIT_S
    while not Worker.all(queue=get_queue(DEFAULT)):
        assert worker.poll() is None, "the worker process exited"
        assert time.monotonic() < deadline, "the worker did not register"
        time.sleep(0.1)


def test_login_dashboard_and_settings(app_url, page, worker_process) -> None:  # noqa: ANN001
    with session_scope() as session:
        for i in range(3):
            create_customer(
                session,
                CustomerInput(
                    first_name=f"Found{i}", email=f"found{i}@example.com", email_consent=i < 2
                ),
            )
    with session_scope() as session:
        expected = dashboard_counts(session)  # other stories may have added customers too
    assert expected.customers >= 3

    open_page(page, f"{app_url}/settings")
    page.wait_for_url("**/login**")  # the dashboard needs an account

    page.fill("#username", ADMIN[0])
    page.fill("#password", "definitely-wrong")
    page.click("#login-submit")
    assert "Wrong username or password" in page.locator("#login-error").inner_text()

    login(page, app_url, *ADMIN)
    page.wait_for_selector("#count-customers")
    page.wait_for_function(
        f"() => document.querySelector('#count-customers').innerText === '{expected.customers}'"
    )
    assert page.locator("#count-email").inner_text() == str(expected.email_subscribers)

    # A live worker whose last proof of life is old (or missing) is checked, never shown red.
    _wait_until_registered(worker_process)
    get_redis().delete(heartbeat_key())
    page.click("text=Settings")
    page.wait_for_selector("#status-database[data-ok='1']")
    assert page.locator("#status-workers").get_attribute("data-state") != "down"
    page.wait_for_selector("#status-workers[data-state='ok']", timeout=30_000)  # asked by itself
    assert "answered" in page.locator("#health-message").inner_text()


def test_the_production_server_serves_email_images_and_public_endpoints(app_url) -> None:  # noqa: ANN001
    """One port serves the frontend's bundles, the email images under /media and the API."""
    import httpx

    image = httpx.get(f"{app_url}/media/logo.png")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert httpx.get(f"{app_url}/api/health").json() == {"ok": True}
    login_page = httpx.get(f"{app_url}/login/").text
    bundles = re.findall(r'(?:src|href)="(/assets/[^"]+)"', login_page)
    assert bundles, "the login page names its script bundles"
    assert all(httpx.get(f"{app_url}{b}").status_code == 200 for b in bundles[:5])
