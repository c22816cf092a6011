"""Browser fixtures: the real app built for production (AppHarnessProd), a real RQ worker,
and system Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from marketing_ui.core.config import PROJECT_ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ADMIN = ("admin", "admin-pass-123")
STAFF = ("counter", "staff-pass-123")
TIMEOUT_MS = 20_000


@pytest.fixture(scope="session")
def app_db() -> None:
    """One admin and one staff account in the run's (already migrated) database."""
    from marketing_ui.core.auth import create_user
    from marketing_ui.core.db import reset_engine_cache, session_scope

    reset_engine_cache()
    with session_scope() as session:
        create_user(session, *ADMIN, role="admin")
        create_user(session, *STAFF, role="staff")


@pytest.fixture(scope="session")
def app_url(app_db: None) -> Iterator[str]:
    """The whole app, compiled for production and served on a free port."""
    from reflex.testing import AppHarnessProd

    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium is missing: run scripts/setup.sh --dev")
    with AppHarnessProd.create(root=PROJECT_ROOT) as harness:
        assert harness.frontend_url
        yield harness.frontend_url.rstrip("/")


@pytest.fixture(scope="session")
def worker_process(app_db: None) -> Iterator[subprocess.Popen]:
    """A real RQ worker process on this test run's queues."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "workers.run"],
        cwd=PROJECT_ROOT,
        env={**os.environ},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser) -> Iterator[object]:  # noqa: ANN001
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    yield pg
    context.close()


def login(page, app_url: str, username: str, password: str) -> None:  # noqa: ANN001
    """Log in through the real form and wait for the app to leave the login page."""
    page.goto(f"{app_url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_function("() => !location.pathname.startsWith('/login')")
