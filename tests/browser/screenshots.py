"""Refresh docs/screenshots/: every page at 1280 and 390 px, from a fresh app with demo data.

    python -m tests.browser.screenshots [--out docs/screenshots]

Run deliberately (not by the test suite). It starts the app the README's way in a copy of the
project, seeds the first-run demo data, sends the Monday special to the VIP segment through
the UI, redeems one coupon, and then photographs each page, a few dialogs and the public pages,
as `NAME.png` (desktop, 1280 px wide) and `NAME_phone.png` (390 px).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tests.browser.long_session import Owner
from tests.browser.served_app import CHROMIUM, ROOT, App

SIZES = {"": (1280, 800), "_phone": (390, 844)}


def _prepare(owner: Owner) -> tuple[int, str]:
    """Send the demo's Monday special to its VIP segment; redeem one of its coupons."""
    page = owner.page
    owner.go("/campaigns")
    page.locator(".campaign-row[data-name='Monday special'] .campaign-name").first.click()
    page.wait_for_url("**/edit")
    owner.ready()
    campaign_id = int(page.url.rstrip("/").split("/")[-2])
    page.click("#review-send")
    page.wait_for_url("**/send")
    owner.ready()
    if page.get_attribute("#audience-everyone", "data-state") == "checked":
        page.click("#audience-everyone")
    row = page.locator(".audience-choice[data-name='VIP email subscribers']")
    row.get_by_text("Include", exact=True).click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.recipient-count')]"
        ".some(e => e.innerText.trim() !== '0')"
    )
    page.click("#send-now")
    page.click("#confirm-send")
    page.wait_for_function(
        "() => document.querySelector('#progress-status')?.innerText.trim() === 'sent'",
        timeout=120_000,
    )
    code = owner.app.coupon_code(campaign_id) or ""
    owner.redeem(campaign_id)
    return campaign_id, code


def _shoot(page: Any, out: Path, name: str) -> None:  # noqa: ANN401 - a Playwright page
    page.wait_for_timeout(400)  # let charts and dialogs finish their entry animation
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)


def _pages(campaign_id: int) -> list[tuple[str, str]]:
    c = f"/campaigns/{campaign_id}"
    return [
        ("dashboard", "/"),
        ("customers", "/customers"),
        ("import", "/import"),
        ("segments", "/segments"),
        ("campaigns", "/campaigns"),
        ("campaign_new", "/campaigns/new"),
        ("campaign_edit", f"{c}/edit"),
        ("campaign_preview", f"{c}/preview"),
        ("campaign_send", f"{c}/send"),
        ("campaign_progress", f"{c}/progress"),
        ("campaign_analytics", f"{c}/analytics"),
        ("campaign_coupons", f"{c}/coupons"),
        ("analytics", "/analytics"),
        ("outbox", "/outbox"),
        ("redeem", "/redeem"),
        ("settings", "/settings"),
        ("audit_log", "/audit"),
        ("suppressions", "/suppressions"),
        ("automations", "/automations"),
        ("automation_birthday", "/automations/birthday"),
    ]


def run(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="mk-screenshots-"))
    app = App(workdir, demo=True)
    try:
        app.start()
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            campaign_id, code = 0, ""
            for suffix, (width, height) in SIZES.items():
                context = browser.new_context(viewport={"width": width, "height": height})
                page = context.new_page()
                owner = Owner(page, app)
                page.goto(f"{app.url}/login")
                owner.ready()
                _shoot(page, out, f"login{suffix}")
                owner.login(app.admin)
                if not campaign_id:
                    campaign_id, code = _prepare(owner)
                for name, path in _pages(campaign_id):
                    page.goto(f"{app.url}{path}")
                    owner.ready()
                    _shoot(page, out, f"{name}{suffix}")
                page.goto(f"{app.url}/customers")
                owner.ready()
                page.locator(".customer-row").first.click()
                page.wait_for_selector("#detail-email")
                _shoot(page, out, f"customer_detail{suffix}")
                page.goto(f"{app.url}/redeem")
                owner.ready()
                page.fill("#code-input", code)
                page.click("#find-code")
                page.wait_for_selector("#redeem-result")
                _shoot(page, out, f"redeem_used{suffix}")
                token = app.coupon_token(campaign_id)
                page.goto(f"{app.url}/c/{token}")
                _shoot(page, out, f"coupon_page{suffix}")
                page.goto(f"{app.url}/join?src=table-tent")
                _shoot(page, out, f"join{suffix}")
                page.fill("#first_name", "Lena")
                page.fill("#email", "not-an-address")
                page.check("#email_opt_in")
                page.click("#join")
                page.wait_for_load_state()
                _shoot(page, out, f"join_error{suffix}")
                page.fill("#email", f"lena{suffix}@example.com")
                page.click("#join")
                page.wait_for_load_state()
                _shoot(page, out, f"join_check_inbox{suffix}")
                page.goto(f"{app.url}{app.preferences_path()}")
                _shoot(page, out, f"preferences{suffix}")
                page.click("#erase")
                page.wait_for_load_state()
                _shoot(page, out, f"preferences_erase{suffix}")
                context.close()
            browser.close()
    finally:
        app.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    run(parser.parse_args().out)


if __name__ == "__main__":
    main()
