"""The customer's rights on SQLite and PostgreSQL: preferences, the data export, erasure."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from marketing_ui.core import customer_rights
from marketing_ui.core.audience import reachable_clause
from marketing_ui.core.check_in import customer_from_qr, find_customer, personal_qr_token
from marketing_ui.core.crypto import blind_indexer, cipher
from marketing_ui.core.customer_export import ExportScope, count_scope
from marketing_ui.core.customer_rights import PreferenceError
from marketing_ui.core.customers import (
    CustomerFilter,
    CustomerInput,
    consent_proof_hash,
    count_customers,
    create_customer,
    list_customers,
    set_consent,
)
from marketing_ui.core.models import (
    AuditEntry,
    Campaign,
    CampaignStatus,
    Channel,
    ConsentEvent,
    Coupon,
    Customer,
    CustomerTag,
    Delivery,
    DeliveryStatus,
    Event,
    OutboxMessage,
    Redemption,
    Suppression,
    Visit,
)
from marketing_ui.core.segments import count_matching
from marketing_ui.core.tags import create_tag
from marketing_ui.core.visits import record_visit

EMAIL = "zebulon.quixley@example.com"
PHONE = "+14155550187"
FIRST, LAST = "Zebulon", "Quixley"
NOT_SUBSCRIBED = {"op": "and", "rules": [{"type": "consent", "channel": "email", "value": False}]}


@dataclass(frozen=True)
class World:
    customer_id: int
    uid: str
    email_enc: str
    phone_enc: str
    email_bidx: str
    phone_bidx: str
    campaign_id: int
    sent_id: int
    pending_id: int
    pending_sms_id: int


def _world(session: Session) -> World:
    """A customer with every kind of history: tags, consent proof, visits, coupon, messages."""
    vip = create_tag(session, "vip")
    session.flush()
    c = create_customer(
        session,
        CustomerInput(
            first_name=FIRST,
            last_name=LAST,
            email=EMAIL,
            phone=PHONE,
            email_consent=True,
            sms_consent=True,
            tag_ids=[int(vip.id)],
            birthday_month=7,
            birthday_day=4,
            birthday_year=1990,
        ),
    )
    c.timezone = "America/New_York"
    c.phone_region = "US"
    session.add(
        ConsentEvent(
            customer_id=c.id,
            channel="email",
            granted=True,
            source="confirm_link",
            origin="table-tent",
            proof_hash="p" * 22,
            wording_version="2026-12",
            note=f"confirmed by {EMAIL}",  # a careless note: erasure must not keep it
        )
    )
    campaign = Campaign(name="Monday special", subject="Hi", status=CampaignStatus.SENT)
    later = Campaign(name="Next week", subject="Soon", status=CampaignStatus.SENDING)
    session.add_all([campaign, later])
    session.flush()
    sent = Delivery(
        campaign_id=campaign.id,
        customer_id=c.id,
        channel="email",
        status=DeliveryStatus.FAILED,
        error=f"550 {EMAIL}: mailbox full",
    )
    pending = Delivery(campaign_id=later.id, customer_id=c.id, channel="email")
    pending_sms = Delivery(campaign_id=later.id, customer_id=c.id, channel="sms")
    session.add_all([sent, pending, pending_sms])
    session.flush()
    session.add_all(
        [
            Event(
                campaign_id=campaign.id,
                delivery_id=sent.id,
                customer_id=c.id,
                type="opened",
            ),
            Event(
                campaign_id=campaign.id,
                delivery_id=sent.id,
                customer_id=c.id,
                type="failed",
                detail=f"refused {EMAIL}",
            ),
            Event(
                campaign_id=campaign.id,
                delivery_id=sent.id,
                customer_id=c.id,
                type="clicked",
                detail="https://bistro.example/menu",
            ),
        ]
    )
    coupon = Coupon(
        campaign_id=campaign.id,
        delivery_id=sent.id,
        customer_id=c.id,
        token_hash="t" * 64,
        short_code_hash="s" * 64,
        secret_enc="x",
        status="redeemed",
    )
    session.add(coupon)
    session.flush()
    session.add(Redemption(coupon_id=coupon.id, action="redeem", note=f"{FIRST} paid cash"))
    record_visit(session, c.id, "redemption", coupon_id=coupon.id)
    record_visit(session, c.id, "check_in")
    fc = cipher()
    outbox = OutboxMessage(delivery_id=sent.id, channel="email", to_enc="", subject="Hi")
    outbox.to_enc = fc.encrypt(EMAIL, b"outbox")
    outbox.html = f"<p>Hello {FIRST}</p>"
    session.add(outbox)
    bidx = blind_indexer()
    session.add(
        Suppression(channel="sms", value_bidx=bidx.phone(PHONE), reason="stop", detail="STOP")
    )
    session.commit()
    return World(
        c.id,
        c.uid,
        c.email_enc,
        c.phone_enc,
        c.email_bidx,
        c.phone_bidx,
        campaign.id,
        sent.id,
        pending.id,
        pending_sms.id,
    )  # type: ignore[arg-type]


def _counts(session: Session) -> dict[str, int]:
    return {
        model.__name__: session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()
        for model in (Delivery, Event, Visit, Coupon, Redemption, Suppression)
    }


def _every_cell(engine: Engine) -> list[tuple[str, str, str]]:
    """(table, column, value) of every non-empty cell of every table, read raw."""
    cells = []
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)).mappings():
                for column, value in row.items():
                    if value not in (None, ""):
                        cells.append((table.name, column, str(value)))
    return cells


# Download my data -------------------------------------------------------------------------


def test_export_holds_everything_stored_with_contact_data_and_consent_proof(
    session: Session,
) -> None:
    w = _world(session)
    data = customer_rights.export_data(session, w.customer_id)
    profile = data["profile"]
    assert (profile["first_name"], profile["last_name"]) == (FIRST, LAST)
    assert (profile["email"], profile["phone"]) == (EMAIL, PHONE)
    assert (profile["email_consent"], profile["sms_consent"]) == (True, True)
    assert profile["birthday"] == {"month": 7, "day": 4, "year": 1990}
    assert profile["timezone"] == "America/New_York"
    assert profile["visit_count"] == 2 and profile["erased_at"] is None
    assert data["tags"] == ["vip"]
    proof = [e for e in data["consent_history"] if e["source"] == "confirm_link"]
    assert len(proof) == 1
    assert proof[0]["origin"] == "table-tent"
    assert proof[0]["wording_version"] == "2026-12"
    assert proof[0]["proof_hash"] == "p" * 22
    assert proof[0]["created_at"].endswith("+00:00")
    assert {e["source"] for e in data["consent_history"]} == {"manual", "confirm_link"}
    assert sorted(v["source"] for v in data["visits"]) == ["check_in", "redemption"]
    assert [(x["campaign"], x["status"]) for x in data["coupons"]] == [
        ("Monday special", "redeemed")
    ]
    messages = {(m["campaign"], m["channel"]): m for m in data["messages"]}
    assert set(messages) == {
        ("Monday special", "email"),
        ("Next week", "email"),
        ("Next week", "sms"),
    }
    sent = messages[("Monday special", "email")]
    assert sent["status"] == "failed"
    assert [e["type"] for e in sent["events"]] == ["opened", "failed", "clicked"]
    assert "error" not in sent  # the provider's words are not the customer's data
    json.dumps(data)  # a JSON document as it is


def test_export_of_an_unknown_customer_is_a_lookup_error(session: Session) -> None:
    with pytest.raises(LookupError):
        customer_rights.export_data(session, 999)


def test_admin_export_is_in_the_audit_log(session: Session) -> None:
    w = _world(session)
    customer_rights.export_for_admin(session, w.customer_id)
    session.commit()
    entry = session.execute(
        sa.select(AuditEntry).where(AuditEntry.action == "customer.data_export")
    ).scalar_one()
    assert entry.object_id == str(w.customer_id)
    assert EMAIL not in entry.summary and FIRST not in entry.summary


# Erase ------------------------------------------------------------------------------------


def test_erase_removes_personal_data_from_every_table_and_keeps_the_analytics(
    engine: Engine, session: Session
) -> None:
    w = _world(session)
    before = _counts(session)
    assert customer_rights.erase(session, w.customer_id, requested_by="customer") is True
    session.commit()

    with engine.connect() as conn:
        raw = conn.execute(sa.select(Customer.__table__).where(Customer.id == w.customer_id))
        row = raw.mappings().one()
    assert (row["first_name"], row["last_name"]) == ("", "")
    for column in ("email_enc", "phone_enc", "email_bidx", "phone_bidx", "timezone"):
        assert row[column] is None, column
    assert (row["birthday_month"], row["birthday_day"], row["birthday_year"]) == (None,) * 3
    assert row["phone_region"] is None
    assert (row["email_consent"], row["sms_consent"]) == (False, False)
    assert row["erased_at"] is not None
    assert row["uid"] != w.uid  # the old links name nobody

    # No copy of the person left anywhere: plaintext, ciphertext or blind index
    # (the blind index may stay in the suppression list only, by design).
    secrets = {
        EMAIL: "email",
        "4155550187": "phone digits",
        FIRST: "first name",
        LAST: "last name",
        w.email_enc: "email ciphertext",
        w.phone_enc: "phone ciphertext",
        w.email_bidx: "email blind index",
        w.phone_bidx: "phone blind index",
    }
    leaks = [
        (table, column, what)
        for table, column, value in _every_cell(engine)
        for secret, what in secrets.items()
        if secret in value and not (table == "suppression" and column == "value_bidx")
    ]
    assert leaks == []

    after = _counts(session)
    outbox_left = session.execute(sa.select(sa.func.count()).select_from(OutboxMessage))
    assert outbox_left.scalar_one() == 0  # the stored copy of the message is gone
    assert after == before  # deliveries, events, visits, coupons, suppressions all kept
    assert (
        session.execute(
            sa.select(CustomerTag).where(CustomerTag.customer_id == w.customer_id)
        ).all()
        == []
    )
    statuses = dict(session.execute(sa.select(Delivery.id, Delivery.status)).all())
    assert statuses[w.sent_id] == "failed"
    assert statuses[w.pending_id] == statuses[w.pending_sms_id] == "skipped"
    visits = session.execute(
        sa.select(Visit.source).where(Visit.customer_id == w.customer_id)
    ).scalars()
    assert sorted(visits) == ["check_in", "redemption"]
    clicks = session.execute(sa.select(Event.detail).where(Event.type == "clicked")).scalars()
    assert list(clicks) == ["https://bistro.example/menu"]  # link reports unchanged

    erase_events = session.execute(
        sa.select(ConsentEvent.channel, ConsentEvent.granted)
        .where(ConsentEvent.customer_id == w.customer_id, ConsentEvent.source == "erase")
        .order_by(ConsentEvent.channel)
    ).all()
    assert erase_events == [("email", False), ("sms", False)]
    proof = session.execute(
        sa.select(ConsentEvent).where(ConsentEvent.source == "confirm_link")
    ).scalar_one()
    assert (proof.origin, proof.wording_version, proof.proof_hash) == (
        "table-tent",
        "2026-12",
        "p" * 22,
    )  # proof of the old consent stays; it names no one
    audit = session.execute(
        sa.select(AuditEntry.object_id).where(AuditEntry.action == "customer.erase")
    ).scalars()
    assert list(audit) == [str(w.customer_id)]


def test_erase_is_idempotent(session: Session) -> None:
    w = _world(session)
    assert customer_rights.erase(session, w.customer_id, requested_by="admin")
    session.commit()
    consent = session.execute(sa.select(sa.func.count()).select_from(ConsentEvent)).scalar_one()
    audits = session.execute(sa.select(sa.func.count()).select_from(AuditEntry)).scalar_one()
    assert customer_rights.erase(session, w.customer_id, requested_by="admin") is False
    session.commit()
    assert session.execute(sa.select(sa.func.count()).select_from(ConsentEvent)).scalar_one() == (
        consent
    )
    assert session.execute(sa.select(sa.func.count()).select_from(AuditEntry)).scalar_one() == (
        audits
    )
    with pytest.raises(LookupError):
        customer_rights.erase(session, 999, requested_by="admin")


def test_an_erased_customer_is_gone_from_lists_search_segments_sends_and_the_counter(
    engine: Engine, session: Session
) -> None:
    w = _world(session)
    other = create_customer(session, CustomerInput(first_name="Ola", email="ola@example.com"))
    session.commit()
    customer = session.get(Customer, w.customer_id)
    qr = personal_qr_token(customer)
    assert count_customers(session) == 2
    customer_rights.erase(session, w.customer_id, requested_by="admin")
    session.commit()

    assert [r.id for r in list_customers(session).rows] == [other.id]
    assert count_customers(session) == 1
    assert count_customers(session, CustomerFilter(search=EMAIL)) == 0
    assert count_customers(session, CustomerFilter(email_consent=False)) == 1  # Ola only
    assert count_matching(session, NOT_SUBSCRIBED) == 1
    for channel in (Channel.EMAIL, Channel.SMS):
        reachable = sa.select(Customer.id).where(reachable_clause(channel))
        assert w.customer_id not in session.execute(reachable).scalars().all()
    assert count_scope(ExportScope(), engine) == 1
    assert find_customer(session, PHONE) is None and find_customer(session, EMAIL) is None
    assert customer_from_qr(session, qr) is None
    assert customer_rights.preferences(session, w.uid) is None


def test_a_stop_is_still_honoured_after_erasure(session: Session) -> None:
    w = _world(session)
    customer_rights.erase(session, w.customer_id, requested_by="customer")
    session.commit()
    again = create_customer(
        session, CustomerInput(first_name="Z", phone=PHONE, sms_consent=True)
    )  # the number comes back, e.g. by import
    session.commit()
    reachable = sa.select(Customer.id).where(reachable_clause(Channel.SMS))
    assert again.id not in session.execute(reachable).scalars().all()


# Preferences ------------------------------------------------------------------------------


def _plain(session: Session, email: str = "", phone: str = "") -> Customer:
    c = create_customer(session, CustomerInput(first_name="Pia", email=email, phone=phone))
    session.commit()
    return c


def test_preferences_show_masked_contact_data_only(session: Session) -> None:
    c = _plain(session, email="pia@example.com", phone="+14155550111")
    view = customer_rights.preferences(session, c.uid)
    assert view is not None
    assert (view.email_masked, view.phone_masked) == ("p***@example.com", "•••0111")
    assert (view.has_email, view.has_phone) == (True, True)
    assert customer_rights.preferences(session, "f" * 32) is None
    assert customer_rights.preferences(session, "") is None


def test_turning_a_channel_on_needs_an_address_on_file_and_records_the_proof(
    session: Session,
) -> None:
    c = _plain(session, email="pia@example.com")
    proof = consent_proof_hash("203.0.113.9", "Mozilla/5.0")
    assert len(proof) <= 64 and "203.0.113.9" not in proof
    with pytest.raises(PreferenceError) as refused:
        customer_rights.turn_on(session, c.id, "sms", proof)
    assert refused.value.field == "sms" and "phone number" in str(refused.value)
    assert customer_rights.turn_on(session, c.id, "email", proof) is True
    session.commit()
    event = session.execute(
        sa.select(ConsentEvent).where(ConsentEvent.customer_id == c.id)
    ).scalar_one()
    assert (event.channel, event.granted, event.source, event.proof_hash) == (
        "email",
        True,
        "preferences",
        proof,
    )
    assert customer_rights.turn_on(session, c.id, "email", proof) is False  # already on


def test_a_suppressed_number_cannot_be_switched_back_on_here(session: Session) -> None:
    c = _plain(session, phone="+14155550122")
    session.add(
        Suppression(channel="sms", value_bidx=blind_indexer().phone("+14155550122"), reason="stop")
    )
    session.commit()
    with pytest.raises(PreferenceError, match="START"):
        customer_rights.turn_on(session, c.id, "sms", "proof")
    assert session.get(Customer, c.id).sms_consent is False


def test_turning_sms_off_skips_queued_texts_and_email_off_counts_as_unsubscribe(
    session: Session,
) -> None:
    c = _plain(session, email="pia@example.com", phone="+14155550133")
    set_consent(session, c.id, "email", True, "manual")
    set_consent(session, c.id, "sms", True, "manual")
    campaign = Campaign(name="Soon", subject="s", status=CampaignStatus.SENDING)
    session.add(campaign)
    session.flush()
    sms = Delivery(campaign_id=campaign.id, customer_id=c.id, channel="sms")
    email = Delivery(campaign_id=campaign.id, customer_id=c.id, channel="email")
    session.add_all([sms, email])
    session.commit()
    assert customer_rights.turn_off(session, c.uid, "sms", "proof") is True
    session.commit()
    session.expire_all()
    assert session.get(Delivery, sms.id).status == "skipped"
    assert session.get(Delivery, email.id).status == "pending"
    assert customer_rights.turn_off(session, c.uid, "email", "proof") is True
    session.commit()
    session.expire_all()
    assert session.get(Delivery, email.id).status == "skipped"
    customer = session.get(Customer, c.id)
    assert (customer.email_consent, customer.sms_consent) == (False, False)
    offs = session.execute(
        sa.select(ConsentEvent.channel, ConsentEvent.source, ConsentEvent.proof_hash).where(
            ConsentEvent.customer_id == c.id, ConsentEvent.granted.is_(False)
        )
    ).all()
    assert sorted(offs) == [("email", "preferences", "proof"), ("sms", "preferences", "proof")]
    unsubscribed = session.execute(sa.select(Event.type).where(Event.customer_id == c.id))
    assert list(unsubscribed.scalars()) == ["unsubscribed"]


def test_birthday_is_validated_with_the_field_named_and_can_be_cleared(session: Session) -> None:
    c = _plain(session, email="pia@example.com")
    with pytest.raises(PreferenceError) as bad:
        customer_rights.set_birthday(session, c.id, "2", "30", "")
    assert bad.value.field == "birthday_day"
    for month in ("²", "13", "x" * 50):
        with pytest.raises(PreferenceError) as bad_month:
            customer_rights.set_birthday(session, c.id, month, "1", "")
        assert bad_month.value.field == "birthday_month"
    assert customer_rights.set_birthday(session, c.id, "2", "29", "") is True
    session.commit()
    stored = session.get(Customer, c.id)
    assert (stored.birthday_month, stored.birthday_day, stored.birthday_year) == (2, 29, None)
    assert customer_rights.set_birthday(session, c.id, "", "", "") is True
    session.commit()
    session.refresh(stored)
    assert (stored.birthday_month, stored.birthday_day) == (None, None)
