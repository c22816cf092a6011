"""Browser fixtures: the real app started the way the README starts it (the production build,
one port, APP_ENV=production), a real RQ worker, and system Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from marketing_ui.core.config import PROJECT_ROOT, get_settings

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def production_env(url: str) -> dict[str, str]:
    """This run's database, Redis, queues and keys, as a production deployment would get them."""
    settings = get_settings()
    return {
        **os.environ,
        "APP_ENV": "production",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "ENCRYPTION_KEYS": settings.encryption_keys,
        "ACTIVE_KEY_ID": settings.active_key,
        "BLIND_INDEX_KEY": settings.blind_index_key,
        "SIGNING_KEY": settings.signing_key,
        "PUBLIC_BASE_URL": url,
        "PUBLIC_API_URL": url,
        "ALLOW_INSECURE_HTTP": "1",  # plain http is allowed only for loopback, and only so
    }


@pytest.fixture(scope="session")
def app_url(app_db: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The whole app as `scripts/run.sh` serves it: production build, one port, APP_ENV=production."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium is missing: run scripts/setup.sh --dev")
    port = _free_port()
    url = f"http://localhost:{port}"
    log_path = tmp_path_factory.mktemp("app") / "app.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "marketing_ui.cli", "serve", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=production_env(url),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_serving(proc, url, log_path)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _wait_until_serving(proc: subprocess.Popen, url: str, log_path: Path) -> None:
    deadline = time.monotonic() + 300  # a cold production build on a busy 2-core machine
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the app exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/login", timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the app did not answer within 300 s:\n{log_path.read_text()[-4000:]}")


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


def wait_ready(page, path: str | None = None) -> None:  # noqa: ANN001
    """Wait until the page's on_load events have run (a user could act earlier; tests should not
    race the page's own loading). `path` defaults to wherever the browser is (after redirects)."""
    page.wait_for_function(
        """(wanted) => {
            const marker = document.querySelector('#page-ready');
            const here = location.pathname.replace(/[/]+$/, '') || '/';
            return !!marker && marker.dataset.ready === 'true'
                && marker.dataset.path === (wanted || here);
        }""",
        arg=path,
    )


def open_page(page, url: str) -> None:  # noqa: ANN001
    page.goto(url)
    wait_ready(page)


def login(page, app_url: str, username: str, password: str) -> None:  # noqa: ANN001
    """Log in through the real form and wait for the page it lands on to be ready."""
    open_page(page, f"{app_url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_function("() => !location.pathname.startsWith('/login')")
    wait_ready(page)
