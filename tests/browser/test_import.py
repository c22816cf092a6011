"""The owner imports customer files: leaves and comes back, sends a wrong file, chooses what
happens to foreign phone numbers, and does it all on a phone."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlmodel import select

from marketing_ui.core.db import session_scope
from marketing_ui.core.models import ImportJob
from tests.browser.conftest import ADMIN, TIMEOUT_MS, login, open_page

# Any <p> holding a block or another <p> (rx.text renders <p>): React warns about it in
# development; the production build the tests run is silent, so the DOM is checked instead.
NESTED_P = "p p, p div, p h1, p h2, p h3, p h4, p table, p ul"

# Elements reaching past the viewport's edges or clipping their own text, unless a scrolling
# box (a wide table) holds them.
CUT_OFF = """() => {
  const vw = document.documentElement.clientWidth;
  const inScroller = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll') return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1 || getComputedStyle(el).visibility === 'hidden') continue;
    const clipped = getComputedStyle(el).overflowX === 'hidden' && el.scrollWidth > el.clientWidth + 1;
    if ((r.right > vw + 1 || r.left < -1 || clipped) && !inScroller(el)) {
      out.push(`${el.tagName}#${el.id} ${(el.innerText || '').slice(0, 40)}`);
    }
  }
  return {page: document.documentElement.scrollWidth, vw, out: out.slice(0, 10)};
}"""


def _wait_text(page, selector: str, text: str, timeout: int = 60_000) -> None:  # noqa: ANN001
    page.wait_for_function(
        "([sel, text]) => { const el = document.querySelector(sel);"
        " return !!el && el.innerText.trim() === text; }",
        arg=[selector, text],
        timeout=timeout,
    )


def _upload(page, path: Path) -> None:  # noqa: ANN001
    page.locator("#csv-upload input[type=file]").set_input_files(str(path))


def _assert_fits_and_no_nested_paragraphs(page, where: str) -> None:  # noqa: ANN001
    assert page.locator(NESTED_P).count() == 0, f"{where}: a <p> holds a block"
    layout = page.evaluate(CUT_OFF)
    assert layout["page"] <= layout["vw"] and layout["out"] == [], f"{where}: {layout}"


def test_leaving_the_page_and_reconnecting_keep_the_import_and_its_history(
    app_url, browser, page, worker_process, tmp_path
) -> None:  # noqa: ANN001
    run = uuid.uuid4().hex[:6]
    rows = "".join(f"P{i},History{run},p{i}.{run}@example.com\n" for i in range(3000))
    csv_file = tmp_path / f"history-{run}.csv"
    csv_file.write_text("First name,Last name,Email\n" + rows + "Bad,Row,not-an-email\n")

    login(page, app_url, *ADMIN)
    open_page(page, f"{app_url}/import")
    _upload(page, csv_file)
    page.wait_for_selector("#start-import")
    assert "3001 rows" in page.locator("#upload-summary").inner_text()
    page.click("#start-import")
    page.wait_for_selector("#import-status")
    # Leave at once, while the worker is still at it.
    open_page(page, f"{app_url}/customers")
    page.wait_for_selector("#customer-search")

    open_page(page, f"{app_url}/import")
    _wait_text(page, "#import-status", "done")
    assert page.locator("#import-created").inner_text() == "3000"
    assert page.locator("#import-errors").inner_text() == "1"
    assert page.locator("#import-report .report-row").get_attribute("data-line") == "3002"
    entry = page.locator(".history-row", has_text=csv_file.name)
    assert "3001 rows · 3000 created · 0 updated · 1 rejected" in entry.inner_text()
    assert f"{ADMIN[0]} · " in entry.inner_text()

    # Another tab (a new connection, a new page state) finds it all in the history.
    other = browser.new_context(viewport={"width": 1280, "height": 860})
    tab = other.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    login(tab, app_url, *ADMIN)
    open_page(tab, f"{app_url}/import")
    entry = tab.locator(".history-row", has_text=csv_file.name)
    entry.wait_for()
    assert entry.locator(".history-status").inner_text() == "done"
    href = entry.locator(".history-report").get_attribute("href")
    assert href and href.endswith("/report.csv")
    report = tab.request.get(href)
    assert report.status == 200 and "not-an-email" in report.text()
    other.close()

    # The uploaded file itself is gone: it held personal data and the import is over.
    with session_scope() as session:
        job = session.exec(select(ImportJob).where(ImportJob.filename == csv_file.name)).one()
        assert job.stored_path is None


def test_a_file_that_is_not_a_csv_gets_a_clear_message(app_url, page, tmp_path) -> None:  # noqa: ANN001
    login(page, app_url, *ADMIN)
    open_page(page, f"{app_url}/import")
    picture = tmp_path / "customers.csv"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    _upload(page, picture)
    page.wait_for_selector("#upload-error")
    message = page.locator("#upload-error").inner_text()
    assert "customers.csv: This is not a CSV text file: it looks like a PNG image" in message

    header_only = tmp_path / "empty-list.csv"
    header_only.write_text("Email,First name\n")
    _upload(page, header_only)
    page.wait_for_selector("#upload-error:has-text('empty-list.csv')")
    assert "no customer rows" in page.locator("#upload-error").inner_text()

    # Excel's "Unicode text" (UTF-16, tabs) is a fine customer list.
    unicode_text = tmp_path / "unicode.txt"
    unicode_text.write_bytes("Email\tFirst name\nzoe@example.com\tZoë\n".encode("utf-16"))
    _upload(page, unicode_text)
    page.wait_for_selector("#start-import")
    assert "Zoë" in page.locator("#upload-summary").evaluate("e => document.body.innerText")
    page.click("text=Choose another file")
    page.wait_for_selector("#csv-upload")


def test_rows_with_a_foreign_phone_can_import_without_it(
    app_url, page, worker_process, tmp_path
) -> None:  # noqa: ANN001
    run = uuid.uuid4().hex[:6]
    csv_file = tmp_path / f"france-{run}.csv"
    csv_file.write_text(
        "Prénom,Email,Téléphone\n"
        f"Amélie,amelie.{run}@example.com,01 23 45 67 89\n"
        f"Luc,,01 23 45 67 90\n"
        f"Ann,ann.{run}@example.com,\n"
    )
    login(page, app_url, *ADMIN)
    open_page(page, f"{app_url}/import")
    _upload(page, csv_file)
    page.wait_for_selector("#phone-check")
    check = page.locator("#phone-check").inner_text()
    assert "2 of the 3 rows have a phone number that does not read" in check
    assert "United States (+1)" in check
    assert "can import without the phone): 1" in check and "rejected either way): 1" in check

    page.click("#import-region")
    page.get_by_role("option", name="France (+33)").click()
    page.wait_for_selector("#phone-check:has-text('Every phone number')")
    page.click("#import-region")
    page.get_by_role("option", name="United States (+1)").click()
    page.wait_for_selector("#phone-check:has-text('2 of the 3 rows')")

    page.click("#invalid-phone-drop")
    page.click("#start-import")
    _wait_text(page, "#import-status", "done")
    assert page.locator("#import-created").inner_text() == "2"
    assert page.locator("#import-phones-dropped").inner_text() == "1"
    assert page.locator("#import-errors").inner_text() == "1"
    outcomes = {
        row.get_attribute("data-line"): row.get_attribute("data-outcome")
        for row in page.locator("#import-report .report-row").all()
    }
    assert outcomes == {"2": "imported", "3": "rejected"}


def test_the_import_page_works_on_a_phone(app_url, browser, worker_process, tmp_path) -> None:  # noqa: ANN001
    run = uuid.uuid4().hex[:6]
    wide = ",".join(f"Extra column {i}" for i in range(12))
    csv_file = tmp_path / f"a-rather-long-file-name-from-the-shop-{run}.csv"
    csv_file.write_text(
        f"First name,Last name,Email,Phone,Newsletter,{wide}\n"
        f"Mo,Phone{run},mo.{run}@example.com,,yes,{',' * 11}\n"  # no phone: others' fixtures own them
        f"No,Phone{run},not-an-email,,,{',' * 11}\n"
    )
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    login(page, app_url, *ADMIN)
    open_page(page, f"{app_url}/import")
    page.wait_for_selector("#csv-upload")
    _assert_fits_and_no_nested_paragraphs(page, "upload step")

    _upload(page, csv_file)
    page.wait_for_selector("#start-import")
    _assert_fits_and_no_nested_paragraphs(page, "mapping step")
    page.locator("#start-import").scroll_into_view_if_needed()
    assert page.locator("#start-import").is_visible()

    page.click("#start-import")
    _wait_text(page, "#import-status", "done")
    page.wait_for_selector("#import-report .report-row")
    page.wait_for_selector(f".history-row:has-text('{csv_file.name}')")
    _assert_fits_and_no_nested_paragraphs(page, "progress, report and history")
    for selector in ("#import-again", "#download-report", ".history-report"):
        box = page.locator(selector).first.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, selector
    context.close()
