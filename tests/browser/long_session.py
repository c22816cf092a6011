"""One owner's long working session, run as its own process beside the rest of the test suite.

    python -m tests.browser.long_session --minutes 10 --report report.json

It copies the project to a temporary folder, starts the app there exactly as the README's start
command does (`cli serve`: the production build on one port, APP_ENV=production) with its own
database, queues and RQ worker, then drives one Chromium tab through the owner's whole loop
again and again until the time is up: import a CSV, build a segment from its tag, write the
Monday special, send it to the segment and watch it go out, redeem a coupon at the counter,
look at analytics, customers, outbox, dashboard and audit log. Pages change by clicking the
app's own links, as a person would, so the tab keeps one websocket connection the whole time.

The report counts what a person would suffer: websocket connections lost, page reloads, backend
restarts, errors shown by the app, console errors, and steps that did not finish.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ADMIN = ("owner", "owner-pass-1234")
STEP_TIMEOUT_MS = 60_000
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".web", ".venv", ".tools", "data", "node_modules", "__pycache__", ".pytest_cache",
    ".ruff_cache", "docs", "bench", ".states", "uploaded_files",
)  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _key() -> str:
    import base64

    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


class App:
    """The app in a copy of the project, started the README's way, with one worker."""

    def __init__(self, workdir: Path) -> None:
        self.tree = workdir / "project"
        self.data = workdir / "data"
        self.port = _free_port()
        self.url = f"http://localhost:{self.port}"
        shutil.copytree(ROOT, self.tree, ignore=COPY_IGNORE)
        for link in (".venv", ".tools"):
            if (ROOT / link).exists():
                (self.tree / link).symlink_to((ROOT / link).resolve())
        self.env = {
            **os.environ,
            "APP_ENV": "production",
            "DATA_DIR": str(self.data),
            "DATABASE_URL": f"sqlite:///{self.data / 'app.db'}",
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "QUEUE_PREFIX": f"long{uuid.uuid4().hex[:8]}",
            "ENCRYPTION_KEYS": f"k1:{_key()}",
            "BLIND_INDEX_KEY": _key(),
            "SIGNING_KEY": _key(),
            "PUBLIC_BASE_URL": self.url,
            "ALLOW_INSECURE_HTTP": "1",
            "PYTHONPATH": str(self.tree),
        }
        self.server: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.log = workdir / "app.log"

    def _cli(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "marketing_ui.cli", *args],
            cwd=self.tree,
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
            input=None,
        )

    def start(self) -> None:
        self.data.mkdir(parents=True)
        self._cli("migrate")
        self._cli("create-user", ADMIN[0], "--role", "admin", "--password", ADMIN[1])
        with open(self.log, "wb") as log:
            self.worker = subprocess.Popen(
                [sys.executable, "-m", "workers.run"],
                cwd=self.tree,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.server = subprocess.Popen(
                [sys.executable, "-m", "marketing_ui.cli", "serve", "--port", str(self.port)],
                cwd=self.tree,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"the app exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/login", timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the app did not start:\n{self.log.read_text()[-3000:]}")

    def restarts(self) -> int:
        """How many times the backend came up after the first time (prod mode: never)."""
        text = self.log.read_text(errors="replace")
        return max(0, text.count("App running at") - 1)

    def coupon_code(self, campaign_id: int) -> str | None:
        """A short code of a coupon this campaign issued (what the customer reads out)."""
        script = (
            "from marketing_ui.core.db import session_scope\n"
            "from marketing_ui.core.models import Delivery\n"
            "from marketing_ui.core.coupons import secrets_for_deliveries\n"
            "from sqlmodel import select\n"
            "with session_scope() as s:\n"
            f"    ids = list(s.execute(select(Delivery.id).where(Delivery.campaign_id == {campaign_id})).scalars())\n"
            "    found = secrets_for_deliveries(s, ids)\n"
            "    print(next(iter(found.values())).short_code if found else '')\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", script],
            cwd=self.tree,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip() or None

    def stop(self) -> None:
        for proc in (self.server, self.worker):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in (self.server, self.worker):
            if proc is not None:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


class Owner:
    """The tab and what it saw."""

    def __init__(self, page: Any, app: App) -> None:  # noqa: ANN401 - a Playwright page
        self.page, self.app = page, app
        self.sockets_opened = 0
        self.sockets_closed = 0
        self.counting = False
        self.closed_urls: list[str] = []
        self.console_errors: list[str] = []
        self.failed_steps: list[str] = []
        self.steps = 0
        page.on("websocket", self._socket)
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text[:300]))
        page.set_default_timeout(STEP_TIMEOUT_MS)

    def _socket(self, ws: Any) -> None:  # noqa: ANN401
        if "/_event" in ws.url:
            self.sockets_opened += 1
            ws.on("close", lambda _ws: self._closed(ws))

    def _closed(self, ws: Any) -> None:  # noqa: ANN401
        self.closed_urls.append(ws.url)
        if self.counting:  # the login page's socket closes when the app page loads: expected
            self.sockets_closed += 1

    def ready(self) -> None:
        """The page the browser shows has finished its on_load events."""
        self.page.wait_for_function(
            """() => {
                const marker = document.querySelector('#page-ready');
                const here = location.pathname.replace(/[/]+$/, '') || '/';
                return !!marker && marker.dataset.ready === 'true' && marker.dataset.path === here;
            }"""
        )

    def go(self, route: str) -> None:
        """Click the sidebar link, as a person would: no page load."""
        self.page.click(f"#sidebar a[href='{route}']")
        self.page.wait_for_selector(
            f"#page-ready[data-ready='true'][data-path='{route}']", state="attached"
        )

    def step(self, name: str, action: Any, *args: Any) -> Any:  # noqa: ANN401
        self.steps += 1
        try:
            return action(*args)
        except Exception as exc:  # noqa: BLE001 - the report names every failed step
            self.failed_steps.append(f"{name}: {type(exc).__name__}: {str(exc)[:300]}")
            try:
                self.page.screenshot(path=str(self.app.log.parent / f"failed-{self.steps}.png"))
            except Exception:  # noqa: BLE001
                pass
            return None

    # The owner's loop ------------------------------------------------------------------

    def login(self) -> None:
        page = self.page
        page.goto(f"{self.app.url}/login")
        page.wait_for_selector("#page-ready[data-path='/login']", state="attached")
        page.fill("#username", ADMIN[0])
        page.fill("#password", ADMIN[1])
        page.click("#login-submit")
        page.wait_for_selector("#page-ready[data-ready='true'][data-path='/']", state="attached")

    def import_customers(self, run: str, workdir: Path) -> None:
        rows = "".join(f"Guest{i},Long{run},guest{i}.{run}@example.com,yes\n" for i in range(25))
        path = workdir / f"guests-{run}.csv"
        path.write_text("First name,Last name,Email,Newsletter\n" + rows)
        self.go("/import")
        if self.page.locator("#import-again").count():  # the last import's result is on show
            self.page.click("#import-again")
        self.page.locator("#csv-upload input[type=file]").set_input_files(str(path))
        self.page.wait_for_selector("#start-import")
        self.page.fill("#import-tags", f"ls-{run}")
        self.page.click("#start-import")
        self.page.wait_for_function(
            "() => document.querySelector('#import-status')?.innerText.trim() === 'done'",
            timeout=120_000,
        )

    def build_segment(self, run: str) -> None:
        self.go("/segments")
        self.page.click("#new-segment")
        self.page.fill("#segment-name", f"Guests {run}")
        self.page.click("#add-rule")
        self.page.locator(".rule-item").first.locator(f"#rule-tag-ls-{run}").click()
        self.page.wait_for_function(
            "() => { const el = document.querySelector('#live-count');"
            " return !!el && el.dataset.counting !== '1' && el.innerText.trim() === '25'; }"
        )
        self.page.click("#save-segment")
        self.page.locator(".segment-row", has_text=f"Guests {run}").wait_for()

    def write_and_send(self, run: str) -> int:
        page = self.page
        self.go("/campaigns")
        page.click("#new-campaign")
        page.wait_for_url("**/campaigns/new")
        self.ready()
        page.fill("#new-name", f"Monday special {run}")
        page.click("#template-monday_special")
        page.click("#create-campaign")
        page.wait_for_url("**/edit")
        self.ready()
        campaign_id = int(page.url.rstrip("/").split("/")[-2])
        page.fill("#edit-subject", f"This Monday only {run}")
        page.click("#save-campaign")
        page.wait_for_function(
            "() => (document.querySelector('#save-message')?.innerText || '').startsWith('Saved')"
        )
        page.click("#review-send")
        page.wait_for_url("**/send")
        self.ready()
        if page.get_attribute("#audience-everyone", "data-state") == "checked":
            page.click("#audience-everyone")  # only the segment, not everyone
        row = page.locator(f".audience-choice[data-name='Guests {run}']")
        row.get_by_text("Include", exact=True).click()
        page.wait_for_function(
            "() => [...document.querySelectorAll('.recipient-count')]"
            ".some(e => e.innerText.trim() === '25')"
        )
        page.click("#send-now")
        page.click("#confirm-send")
        page.wait_for_selector("#progress-status")
        page.wait_for_function(
            "() => document.querySelector('#progress-status')?.innerText.trim() === 'sent'",
            timeout=180_000,
        )
        return campaign_id

    def redeem(self, campaign_id: int) -> None:
        code = self.app.coupon_code(campaign_id)
        assert code, "the send issued no coupon"
        self.go("/redeem")
        self.page.fill("#code-input", code)
        self.page.click("#find-code")
        self.page.click("#redeem-button")
        self.page.wait_for_selector("#redeem-result[data-result='ok']")

    def look_around(self, run: str) -> None:
        for route in ("/analytics", "/outbox", "/", "/audit", "/settings"):
            self.go(route)
        self.go("/customers")
        self.page.fill("#customer-search", f"guest3.{run}@example.com")
        self.page.wait_for_function(
            "(run) => { const rows = document.querySelectorAll('.customer-row');"
            " return rows.length === 1 && rows[0].innerText.includes(run); }",
            arg=f"guest3.{run}",
        )


def run(minutes: float, report_path: Path) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    workdir = Path(tempfile.mkdtemp(prefix="mk-long-session-"))
    app = App(workdir)
    report: dict[str, Any] = {"minutes": minutes, "workdir": str(workdir)}
    started = time.monotonic()
    try:
        app.start()
        report["startup_s"] = round(time.monotonic() - started, 1)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
            owner = Owner(page, app)
            owner.login()
            owner.counting = True
            page.evaluate("window.__sameDocument = true")  # a reload would forget this
            sockets_after_login = owner.sockets_opened
            session_start = time.monotonic()
            loops = 0
            while time.monotonic() - session_start < minutes * 60:
                tag = uuid.uuid4().hex[:6]
                owner.step("import", owner.import_customers, tag, workdir)
                owner.step("segment", owner.build_segment, tag)
                campaign_id = owner.step("send", owner.write_and_send, tag)
                if campaign_id:
                    owner.step("redeem", owner.redeem, campaign_id)
                owner.step("look around", owner.look_around, tag)
                loops += 1
            same_document = page.evaluate("window.__sameDocument === true")
            app_errors = page.locator("[role='alert'], .rx-connection-error").count()
            report.update(
                loops=loops,
                steps=owner.steps,
                session_s=round(time.monotonic() - session_start, 1),
                failed_steps=owner.failed_steps,
                websocket_connections=owner.sockets_opened,
                websocket_connections_after_login=owner.sockets_opened - sockets_after_login,
                websocket_disconnects=owner.sockets_closed,
                page_reloads=0 if same_document else 1,
                console_errors=owner.console_errors[:20],
                alerts_on_screen=app_errors,
            )
            browser.close()
        report["backend_restarts"] = app.restarts()
        report["server_alive"] = app.server is not None and app.server.poll() is None
    except Exception:  # noqa: BLE001 - a report is written whatever happens
        report["crash"] = traceback.format_exc()[-3000:]
    finally:
        app.stop()
        report["log_tail"] = app.log.read_text(errors="replace")[-2000:] if app.log.exists() else ""
        report_path.write_text(json.dumps(report, indent=2))
        if "crash" not in report and not report.get("failed_steps"):
            shutil.rmtree(workdir, ignore_errors=True)  # kept only to look at a failure
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args()
    # Stopped early (pytest -x): unwind, so the app and worker started here are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    run(args.minutes, args.report)


if __name__ == "__main__":
    main()
