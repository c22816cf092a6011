"""Suppressed addresses: masked and newest first, found by exact address, lifted with a reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session

from marketing_ui.core import audit, events, suppressions
from marketing_ui.core.audience import reachable_clause
from marketing_ui.core.clock import utcnow
from marketing_ui.core.crypto import blind_indexer
from marketing_ui.core.customers import CustomerInput, create_customer, delete_customer, set_consent
from marketing_ui.core.models import (
    AuditEntry,
    Campaign,
    Channel,
    Customer,
    Delivery,
    Suppression,
    SuppressionLift,
)
from marketing_ui.core.suppressions import SuppressionError, SuppressionFilter

ADMIN = audit.Actor(7, "owner")


def _suppress(
    session: Session,
    email: str = "",
    phone: str = "",
    reason: str = "bounce",
    minutes_ago: int = 0,
    customer: bool = True,
    detail: str = "",
) -> int:
    """A suppression as the pipeline makes them (by blind index), for a customer or nobody."""
    if customer:
        create_customer(
            session,
            CustomerInput(
                first_name="Noah",
                email=email,
                phone=phone,
                email_consent=bool(email),
                sms_consent=bool(phone),
            ),
        )
    bidx = blind_indexer().email(email) if email else blind_indexer().phone(phone)
    row = Suppression(
        channel="email" if email else "sms",
        value_bidx=bidx,
        reason=reason,
        detail=detail,
        created_at=utcnow() - timedelta(minutes=minutes_ago),
    )
    session.add(row)
    session.commit()
    assert row.id is not None
    return row.id


def _reachable(session: Session, email: str) -> bool:
    query = select(Customer.id).where(
        Customer.email_bidx == blind_indexer().email(email),
        reachable_clause(Channel.EMAIL),
    )
    return session.execute(query).first() is not None


def test_the_list_is_newest_first_masked_and_paged(session: Session) -> None:
    old = _suppress(session, email="noah.k@example.com", minutes_ago=30, detail="Permanent/General")
    mid = _suppress(session, phone="+12025550199", reason="invalid", minutes_ago=20)
    new = _suppress(session, email="mia@example.com", reason="complaint", minutes_ago=10)

    first = suppressions.list_suppressions(session, limit=2)
    second = suppressions.list_suppressions(session, cursor=first.next_cursor, limit=2)

    assert [r.id for r in first.rows] == [new, mid]
    assert [r.id for r in second.rows] == [old] and second.next_cursor is None
    assert [r.address for r in first.rows + second.rows] == [
        "m***@example.com",
        "•••0199",
        "n***@example.com",
    ]
    assert second.rows[0].detail == "Permanent/General"
    shown = repr(first.rows + second.rows)
    assert "noah.k@" not in shown and "2025550199" not in shown


def test_filters_by_reason_and_channel(session: Session) -> None:
    _suppress(session, email="a@example.com", reason="bounce")
    complaint = _suppress(session, email="b@example.com", reason="complaint")
    stop = _suppress(session, phone="+12025550143", reason="stop")

    by_reason = suppressions.list_suppressions(session, SuppressionFilter(reason="complaint"))
    by_channel = suppressions.list_suppressions(session, SuppressionFilter(channel="sms"))

    assert [r.id for r in by_reason.rows] == [complaint]
    assert [r.id for r in by_channel.rows] == [stop]
    assert suppressions.count(session, SuppressionFilter(channel="email")) == 2
    with pytest.raises(SuppressionError, match="^Why: "):
        suppressions.list_suppressions(session, SuppressionFilter(reason="nope"))


def test_found_by_exact_address_through_the_blind_index(session: Session) -> None:
    email_id = _suppress(session, email="Noah.K@Example.com")
    phone_id = _suppress(session, phone="+12025550199", reason="invalid", customer=False)

    (by_email,) = suppressions.find(session, "  noah.k@EXAMPLE.com ")
    (by_phone,) = suppressions.find(session, "(202) 555-0199")

    assert (by_email.id, by_email.address) == (email_id, "noah.k@example.com")
    assert (by_phone.id, by_phone.address, by_phone.customer_id) == (
        phone_id,
        "+12025550199",
        None,
    )
    assert suppressions.find(session, "noah@example.com") == []  # not part of an address
    for typed, problem in [
        ("", "Find: enter a whole email address or phone number."),
        ("noah", "Find: enter a whole email address or phone number; suppressions are found"),
        ("+1 202 555", "Find: “+1 202 555” is not a valid phone number"),
    ]:
        with pytest.raises(SuppressionError) as info:
            suppressions.find(session, typed)
        assert str(info.value).startswith(problem) and info.value.field == "find"


def test_an_admin_can_open_one_address(session: Session) -> None:
    listed = _suppress(session, email="noah.k@example.com")
    nobody = _suppress(session, phone="+12025550143", reason="stop", customer=False)

    assert suppressions.reveal(session, listed) == "noah.k@example.com"
    assert suppressions.reveal(session, nobody) == ""
    (row,) = suppressions.list_suppressions(session, SuppressionFilter(channel="sms")).rows
    assert row.address == "" and row.customer_id is None


def test_lifting_needs_a_reason_and_records_who_when_and_why(session: Session) -> None:
    sid = _suppress(session, email="noah.k@example.com", detail="Permanent/General")
    for note, problem in [
        ("   ", "Reason: say why this address may receive messages again."),
        ("x" * 256, "Reason: at most 255 characters (this one has 256)."),
        ("ok\x00", "Reason: contains characters that cannot be stored."),
    ]:
        with pytest.raises(SuppressionError) as info:
            suppressions.lift(session, sid, note)
        assert str(info.value) == problem and info.value.field == "note"
    assert session.get(Suppression, sid) is not None

    with audit.acting_as(ADMIN):
        lifted = suppressions.lift(
            session, sid, "Mailbox fixed, customer called noah.k@example.com"
        )
    session.commit()

    assert session.get(Suppression, sid) is None
    record = session.execute(select(SuppressionLift)).scalar_one()
    assert (record.suppression_id, record.reason, record.detail) == (
        sid,
        "bounce",
        "Permanent/General",
    )
    assert (record.lifted_by_id, record.lifted_by) == (7, "owner")
    assert record.note == "Mailbox fixed, customer called noah.k@example.com"
    entry = session.execute(
        select(AuditEntry).where(AuditEntry.action.startswith("suppression"))
    ).scalar_one()
    assert (entry.actor, entry.action, entry.object_id) == ("owner", "suppression.lift", str(sid))
    assert "noah" not in entry.summary  # neither the address nor the note
    assert lifted.message.startswith("Lifted. The customer has email consent")
    (shown,) = suppressions.recent_lifts(session)
    assert (shown.address, shown.lifted_by, shown.note[:13]) == (
        "n***@example.com",
        "owner",
        "Mailbox fixed",
    )
    with pytest.raises(SuppressionError, match="no longer suppressed"):
        suppressions.lift(session, sid, "again")


def test_lifting_gives_no_consent_back(session: Session) -> None:
    """A hard bounce withdrew consent: lifted, the address still receives nothing until the
    customer's consent is recorded again."""
    customer = create_customer(
        session, CustomerInput(first_name="Ana", email="ana@example.com", email_consent=True)
    )
    campaign = Campaign(name="Spring", status="sent")
    session.add(campaign)
    session.flush()
    delivery = Delivery(
        campaign_id=campaign.id,  # type: ignore[arg-type]
        customer_id=customer.id,  # type: ignore[arg-type]
        channel="email",
        status="sent",
    )
    session.add(delivery)
    session.commit()
    events.apply_bounce(
        session,
        events.delivery_ref(session, delivery.id),  # type: ignore[arg-type]
        hard=True,
        reason="Permanent/General",
        provider_event_id="bounce-1",
    )
    session.commit()
    (row,) = suppressions.find(session, "ana@example.com")
    assert not _reachable(session, "ana@example.com")

    lifted = suppressions.lift(session, row.id, "Typo fixed by the customer")
    session.commit()

    assert "no email consent (lifting gives none back)" in lifted.message
    assert not _reachable(session, "ana@example.com")
    set_consent(session, customer.id, "email", True, "manual", "asked at the counter")  # type: ignore[arg-type]
    session.commit()
    assert _reachable(session, "ana@example.com")


def test_a_stop_is_lifted_only_by_the_person(session: Session) -> None:
    sid = _suppress(session, phone="+12025550143", reason="stop")

    with pytest.raises(SuppressionError, match="only by the person: when they text START"):
        suppressions.lift(session, sid, "They asked in the shop")
    assert session.get(Suppression, sid) is not None


def test_a_deleted_customer_leaves_a_findable_but_unshown_address(session: Session) -> None:
    sid = _suppress(session, email="gone@example.com", reason="complaint")
    (row,) = suppressions.find(session, "gone@example.com")
    assert row.customer_id is not None
    delete_customer(session, row.customer_id)
    session.commit()

    (listed,) = suppressions.list_suppressions(session).rows
    assert (listed.id, listed.address, listed.consent) == (sid, "", None)
    assert [r.id for r in suppressions.find(session, "gone@example.com")] == [sid]
    lifted = suppressions.lift(session, sid, "Erased on request; nothing to keep")
    assert "No customer has this address now" in lifted.message
