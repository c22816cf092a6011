"""The owner imports a messy CSV, then adds customers by hand and is stopped from duplicating one."""

from __future__ import annotations

import uuid

from marketing_ui.core.customers import CustomerInput, create_customer
from marketing_ui.core.db import session_scope
from marketing_ui.core.segments import create_segment
from marketing_ui.core.tags import ensure_tags
from tests.browser.conftest import ADMIN, login, open_page


def _wait_text(page, selector: str, text: str, timeout: int = 20_000) -> None:  # noqa: ANN001
    page.wait_for_function(
        "([sel, text]) => { const el = document.querySelector(sel);"
        " return !!el && el.innerText.trim() === text; }",
        arg=[selector, text],
        timeout=timeout,
    )


def test_import_csv_reports_bad_rows_and_imports_good_ones(
    app_url, page, worker_process, tmp_path
) -> None:  # noqa: ANN001
    run = uuid.uuid4().hex[:6]
    tag = f"fair-{run}"
    csv_file = tmp_path / "customers.csv"
    csv_file.write_text(
        "First Name,Last Name,Email,Phone,Newsletter\n"
        f"Ada,Import{run},ada.{run}@example.com,+1 415 555 0101,yes\n"  # line 2: good
        f"Bob,Import{run},not-an-email,,yes\n"  # line 3: invalid email
        f"Cy,Import{run},,12,\n"  # line 4: unparseable phone
        f"Dee,Import{run},,,yes\n"  # line 5: missing both
        f"Eve,Import{run},eve.{run}@example.com,,no\n"  # line 6: good
        f"Fay,Import{run},,+1 415 555 0107,\n",  # line 7: good
        encoding="utf-8",
    )

    login(page, app_url, *ADMIN)
    open_page(page, f"{app_url}/import")
    page.locator("#csv-upload input[type=file]").set_input_files(str(csv_file))

    # The guessed mapping and the consent warning show before anything runs.
    page.wait_for_selector("#start-import")
    notice = page.locator("#consent-notice").inner_text()
    assert "Rows without a consent column import as NOT subscribed" in notice
    assert "Email consent comes from column “Newsletter”" in notice
    assert "No SMS consent column is mapped" in notice
    assert "Email" in page.locator("#map-email").inner_text()
    page.fill("#import-tags", tag)
    page.click("#start-import")

    _wait_text(page, "#import-status", "done", timeout=60_000)
    assert page.locator("#import-created").inner_text() == "3"
    assert page.locator("#import-errors").inner_text() == "3"
    rows = page.locator("#import-report .report-row")
    assert rows.count() == 3
    report = {rows.nth(i).get_attribute("data-line"): rows.nth(i).inner_text() for i in range(3)}
    assert set(report) == {"3", "4", "5"}
    assert "invalid email" in report["3"]
    assert "unparseable phone" in report["4"]
    assert "missing both email and phone" in report["5"]

    # The downloadable report carries the same lines, for this logged-in admin only.
    href = page.locator("#download-report").get_attribute("href")
    assert href and href.endswith("/report.csv")
    download = page.request.get(href)
    assert download.status == 200
    body = download.text()
    assert "not-an-email" in body and "missing both email and phone" in body

    # The good rows are customers now, tagged, with consent only where the file said yes.
    open_page(page, f"{app_url}/customers")
    page.fill("#customer-search", f"Import{run}")
    _wait_text(page, "#customers-total", "3")
    names = page.locator("#customers-table .customer-name").all_inner_texts()
    assert sorted(names) == [f"Ada Import{run}", f"Eve Import{run}", f"Fay Import{run}"]
    rows = page.locator("#customers-table .customer-row").all_inner_texts()
    assert all(tag in r for r in rows)
    page.locator(".customer-row", has_text="Ada").click()
    page.wait_for_selector("#detail-consent")
    assert "CSV import of customers.csv" in page.locator("#detail-consent").inner_text()
    assert page.locator("#detail-email").inner_text() == f"ada.{run}@example.com"
    assert page.locator("#detail-deliveries").inner_text() == "None yet."
    page.wait_for_function("() => document.getAnimations().every(a => a.playState !== 'running')")


def test_add_customer_then_duplicate_is_refused(app_url, page) -> None:  # noqa: ANN001
    run = uuid.uuid4().hex[:6]
    with session_scope() as session:
        ids = ensure_tags(session, ["regulars", "vip"])
        for i, (first, last) in enumerate(
            [("Maria", "Alvarez"), ("Tom", "Becker"), ("Lena", "Fischer"), ("Sam", "Okafor")]
        ):
            create_customer(
                session,
                CustomerInput(
                    first_name=first,
                    last_name=last,
                    email=f"{first.lower()}.{run}@example.com",
                    phone=f"+1 415 555 01{i + 10}",
                    email_consent=True,
                    sms_consent=i % 2 == 0,
                    tag_ids=[ids["regulars"]] + ([ids["vip"]] if i < 2 else []),
                ),
            )

    login(page, app_url, *ADMIN)
    open_page(page, f"{app_url}/customers")
    page.wait_for_selector("#customers-table")

    email = f"grace.{run}@example.com"
    page.click("#add-customer")
    page.fill("#customer-first-name", "Grace")
    page.fill("#customer-last-name", f"Hopper{run}")
    page.fill("#customer-email", email)
    page.click(".customer-email-consent")
    page.click("#edit-tag-vip")
    page.click("#customer-save")
    page.wait_for_selector("#customer-save", state="detached")
    assert "Saved Grace" in page.locator("#customers-message").inner_text()

    page.fill("#customer-search", email)
    _wait_text(page, "#customers-total", "1")
    row = page.locator("#customers-table .customer-row").first
    assert f"Grace Hopper{run}" in row.inner_text() and "vip" in row.inner_text()

    page.click("#add-customer")
    page.fill("#customer-first-name", "Impostor")
    page.fill("#customer-email", email.upper())  # same address, other case
    page.click("#customer-save")
    page.wait_for_selector("#customer-error")
    error = page.locator("#customer-error").inner_text()
    assert f"Grace Hopper{run}" in error and "already has this email address" in error
    page.keyboard.press("Escape")
    # Until the dialog is gone its focus trap takes the keyboard: typing would land in it.
    page.wait_for_selector("#customer-save", state="detached")

    # Bulk: the "regulars" on this page all become VIPs; delete asks first, naming the count.
    page.fill("#customer-search", "")
    page.click("#filter-tag")
    page.get_by_role("option", name="regulars", exact=True).click()
    _wait_text(page, "#customers-total", "4")
    page.click("#select-page")
    assert "4 selected customers" in page.locator("#bulk-target").inner_text()
    page.click("#bulk-tag")
    page.get_by_role("option", name="vip", exact=True).click()
    page.click("#bulk-add-tag")
    page.wait_for_selector("#customers-message:has-text('Tag added to 2 customers')")
    page.click("#bulk-delete")
    page.wait_for_selector("#bulk-delete-confirm:has-text('Delete 4')")
    page.keyboard.press("Escape")
    page.wait_for_selector("#bulk-delete-confirm", state="detached")
    page.click("#filter-tag")
    page.get_by_role("option", name="All tags", exact=True).click()

    # Tags: create one, then delete "regulars" after being told how many customers lose it.
    page.click("#manage-tags")
    page.fill("#new-tag-name", f"walk-in {run}")
    page.click("#create-tag")
    page.wait_for_selector(f".tag-row[data-name='walk-in {run}']")
    page.locator(".tag-row[data-name='regulars'] .tag-delete").click()
    assert "4 customers carry it" in page.locator("#tag-delete-warning").inner_text()
    page.click("#tag-delete-confirm")
    page.wait_for_selector(".tag-row[data-name='regulars']", state="detached")
    page.keyboard.press("Escape")
    page.wait_for_selector("#new-tag-name", state="detached")

    page.fill("#customer-search", "")
    page.wait_for_function(
        "() => document.querySelectorAll('#customers-table .customer-row').length >= 5"
    )


def test_export_the_current_filter_or_a_segment_as_csv(app_url, page) -> None:  # noqa: ANN001
    run = uuid.uuid4().hex[:6]
    with session_scope() as session:
        for first, consent in (("Ivy", True), ("Jon", False)):
            create_customer(
                session,
                CustomerInput(
                    first_name=first,
                    last_name=f"Export{run}",
                    email=f"{first.lower()}.{run}@example.com",
                    email_consent=consent,
                ),
            )
        create_customer(session, CustomerInput("=SUM(1)", f"Export{run}", f"sum.{run}@example.com"))
        segment = create_segment(
            session,
            f"Export segment {run}",
            {"type": "consent", "channel": "email", "value": True},
        )
        segment_name = segment.name

    login(page, app_url, *ADMIN)
    open_page(page, f"{app_url}/customers")
    page.fill("#customer-search", f"Export{run}")
    _wait_text(page, "#customers-total", "3")

    page.click("#export-customers")
    page.click("#export-filter")
    page.click("#export-prepare")
    link = page.locator("#export-download")
    link.wait_for()
    assert "Download 3 customers" in link.inner_text()
    href = link.get_attribute("href")
    assert href and run not in href  # the search stays on the server
    response = page.request.get(href)
    assert response.status == 200
    assert "attachment" in response.headers["content-disposition"]
    lines = response.text().lstrip("\ufeff").splitlines()
    assert lines[0].startswith(
        "First name,Last name,Email,Phone,Birthday,Email consent,SMS consent"
    )
    assert sorted(line.split(",")[0] for line in lines[1:]) == ["'=SUM(1)", "Ivy", "Jon"]
    assert page.request.get(href).status == 404  # one ticket, one download

    page.click("#export-segment")
    page.click("#export-segment-pick")
    page.get_by_role("option", name=segment_name).click()
    page.click("#export-prepare")
    page.locator("#export-download").wait_for()
    body = page.request.get(page.locator("#export-download").get_attribute("href")).text()
    assert f"ivy.{run}@example.com" in body and f"jon.{run}@example.com" not in body
