"""The owner looks after the suppression list: sees who receives nothing and why (masked), finds
one address by typing it, opens one, and lifts a hard bounce with a reason; on a phone too."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from marketing_ui.core.clock import utcnow
from marketing_ui.core.crypto import blind_indexer
from marketing_ui.core.customers import CustomerInput, create_customer, delete_customers
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import AuditEntry, Suppression, SuppressionLift
from tests.browser.conftest import ADMIN, TIMEOUT_MS, login, open_page, wait_ready
from tests.browser.test_phone_layout import PHONE, assert_fits, assert_no_sideways_scroll


@pytest.fixture
def seeded() -> Iterator[dict[str, object]]:
    """A hard bounce, a complaint (both customers') and a STOP from an unknown number; erased
    afterwards (the browser tests share one database, and others count customers)."""
    data = _seed()
    yield data
    with session_scope() as session:
        delete_customers(session, data["customers"])  # type: ignore[arg-type]
        session.execute(delete(Suppression).where(Suppression.value_bidx.in_(data["bidxs"])))  # type: ignore[arg-type]
        session.execute(
            delete(SuppressionLift).where(SuppressionLift.value_bidx.in_(data["bidxs"]))  # type: ignore[arg-type]
        )


def _seed() -> dict[str, object]:
    tag = uuid.uuid4().hex[:8]
    bounced, complained = f"noah.{tag}@example.com", f"mia.{tag}@example.com"
    phone = f"+1202555{int(tag, 16) % 10000:04d}"
    ids, customers = {}, []
    with session_scope() as session:
        for first, email in (("Noah", bounced), ("Mia", complained)):
            customer = create_customer(
                session, CustomerInput(first_name=first, email=email, email_consent=True)
            )
            customers.append(customer.id)
        now = utcnow()
        for key, channel, bidx, reason, detail, age in (
            ("stop", "sms", blind_indexer().phone(phone), "stop", "", 3),
            ("bounce", "email", blind_indexer().email(bounced), "bounce", "Permanent/General", 2),
            ("complaint", "email", blind_indexer().email(complained), "complaint", "", 1),
        ):
            row = Suppression(
                channel=channel,
                value_bidx=bidx,
                reason=reason,
                detail=detail,
                created_at=now - timedelta(seconds=age),
            )
            session.add(row)
            session.flush()
            ids[key] = str(row.id)
    bidxs = [blind_indexer().email(bounced), blind_indexer().email(complained)]
    bidxs.append(blind_indexer().phone(phone))
    return {
        "bounced": bounced,
        "complained": complained,
        "phone": phone,
        "ids": ids,
        "tag": tag,
        "customers": customers,
        "bidxs": bidxs,
    }


def _row(page, row_id: str):  # noqa: ANN001, ANN202 - Playwright objects
    return page.locator(f".suppression-row[data-id='{row_id}']")


def test_owner_finds_opens_and_lifts_a_suppression(app_url, page, seeded) -> None:  # noqa: ANN001
    ids = seeded["ids"]
    login(page, app_url, *ADMIN)
    page.click("#sidebar a[href='/suppressions']")
    wait_ready(page, "/suppressions")

    # Newest first, masked: the complaint, then the bounce, then the STOP nobody holds.
    listed = page.eval_on_selector_all(".suppression-row", "rows => rows.map(r => r.dataset.id)")
    assert [i for i in listed if i in ids.values()] == [
        ids["complaint"],
        ids["bounce"],
        ids["stop"],
    ]
    assert _row(page, ids["bounce"]).locator(".suppression-address").inner_text() == (
        "n***@example.com"
    )
    assert "Permanent/General" in _row(page, ids["bounce"]).inner_text()
    assert "no customer has it now" in _row(page, ids["stop"]).inner_text()
    body = page.content()
    assert seeded["bounced"] not in body and seeded["complained"] not in body

    # Filter by why.
    page.click("#suppression-reason")
    page.get_by_role("option", name="Spam complaint").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.suppression-row')]"
        ".every(r => r.innerText.includes('Spam complaint'))"
    )
    assert _row(page, ids["complaint"]).count() == 1 and _row(page, ids["bounce"]).count() == 0
    page.click("#suppression-reason")
    page.get_by_role("option", name="Every reason").click()
    _row(page, ids["bounce"]).wait_for()

    # Find by the exact address: one row, the address as typed.
    page.fill("#suppression-find", f"  {seeded['bounced'].upper()} ")
    page.click("#suppression-find-submit")
    page.wait_for_function("() => document.querySelectorAll('.suppression-row').length === 1")
    assert (
        _row(page, ids["bounce"]).locator(".suppression-address").inner_text()
        == (seeded["bounced"])
    )
    page.fill("#suppression-find", f"noah.{seeded['tag']}")  # part of an address finds nothing
    page.click("#suppression-find-submit")
    page.wait_for_selector("#suppression-error")
    assert "whole email address or phone number" in page.inner_text("#suppression-error")
    page.click("#suppression-show-all")
    _row(page, ids["complaint"]).wait_for()

    # Open one: its whole address, for that row only.
    _row(page, ids["complaint"]).locator(".suppression-show").click()
    page.wait_for_function(
        "([id, email]) => document.querySelector(`.suppression-row[data-id='${id}']`)"
        ".innerText.includes(email)",
        arg=[ids["complaint"], seeded["complained"]],
    )
    assert seeded["bounced"] not in page.content()

    # Lift the bounce: a reason is required, then it is gone and the lift is on record.
    _row(page, ids["bounce"]).locator(".suppression-lift").click()
    page.wait_for_selector("#lift-note")
    page.click("#lift-confirm")
    page.wait_for_selector("#lift-error")
    assert page.inner_text("#lift-error") == (
        "Reason: say why this address may receive messages again."
    )
    page.fill("#lift-note", "The customer fixed a typo in their mailbox")
    page.click("#lift-confirm")
    page.wait_for_selector("#suppression-message")
    assert page.inner_text("#suppression-message").startswith(
        "Lifted. The customer has email consent"
    )
    assert _row(page, ids["bounce"]).count() == 0
    assert "The customer fixed a typo" in page.inner_text("#recent-lifts")
    with session_scope() as session:
        lift = session.execute(
            select(SuppressionLift).where(SuppressionLift.suppression_id == int(ids["bounce"]))
        ).scalar_one()
        assert (lift.lifted_by, lift.note) == (
            ADMIN[0],
            "The customer fixed a typo in their mailbox",
        )
        entry = session.execute(
            select(AuditEntry).where(
                AuditEntry.action == "suppression.lift", AuditEntry.object_id == ids["bounce"]
            )
        ).scalar_one()
        assert entry.actor == ADMIN[0] and seeded["tag"] not in entry.summary

    # A STOP is the person's to undo: no Lift button on it.
    assert _row(page, ids["stop"]).locator(".suppression-lift").count() == 0


def test_the_suppression_list_fits_a_phone(app_url, browser, seeded) -> None:  # noqa: ANN001
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        login(page, app_url, *ADMIN)
        open_page(page, f"{app_url}/suppressions")
        page.wait_for_selector(".suppression-card")
        for selector in (
            "#suppression-find",
            "#suppression-find-submit",
            "#suppression-reason",
            "#suppression-channel",
            ".suppression-card .suppression-address",
            ".suppression-card .suppression-lift",
            "#suppression-next",
        ):
            assert_fits(page, selector, PHONE["width"])
        assert_no_sideways_scroll(page, PHONE["width"])
        page.locator(".suppression-card .suppression-lift").first.click()
        page.wait_for_selector("#lift-note")
        assert_fits(page, "#lift-note", PHONE["width"])
        assert_fits(page, "#lift-confirm", PHONE["width"])
    finally:
        context.close()
