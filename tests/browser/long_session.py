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
import shutil
import signal
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

from tests.browser.served_app import ADMIN, CHROMIUM, App

STEP_TIMEOUT_MS = 60_000


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

    def login(self, credentials: tuple[str, str] = ADMIN) -> None:
        page = self.page
        page.goto(f"{self.app.url}/login")
        page.wait_for_selector("#page-ready[data-path='/login']", state="attached")
        page.fill("#username", credentials[0])
        page.fill("#password", credentials[1])
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
