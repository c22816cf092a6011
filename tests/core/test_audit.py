"""The audit log: every admin write names who, what and which object; never a contact value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session

from marketing_ui.core import audit, auth, campaigns, customers, segments, sending, tags
from marketing_ui.core.app_settings import business_identity, save_business_identity
from marketing_ui.core.customers import CustomerFilter, CustomerInput
from marketing_ui.core.models import AuditEntry

OWNER = audit.Actor(7, "owner")
EMAIL, PHONE = "audit.person@example.com", "+14155550142"


def _entries(session: Session) -> list[AuditEntry]:
    return list(session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars())


def _actions(session: Session) -> list[str]:
    return [e.action for e in _entries(session)]


def test_customer_writes_name_the_actor_and_object_but_no_contact_data(session: Session) -> None:
    with audit.acting_as(OWNER):
        c = customers.create_customer(
            session, CustomerInput(first_name="Ada", last_name="Lovelace", email=EMAIL, phone=PHONE)
        )
        cid = c.id
        customers.update_customer(
            session,
            cid,
            CustomerInput(
                first_name="Ada", last_name="Lovelace", email="new." + EMAIL, email_consent=True
            ),
        )
        tag = tags.create_tag(session, "vip")
        customers.bulk_add_tag(session, CustomerFilter(search="new." + EMAIL), tag.id)
        customers.delete_customer(session, cid)
    session.commit()
    entries = _entries(session)
    assert [e.action for e in entries] == [
        "customer.create",
        "customer.update",
        "tag.create",
        "customer.tag",
        "customer.delete",
    ]
    assert {(e.actor, e.actor_id) for e in entries} == {("owner", 7)}
    assert entries[0].object_type == "customer" and entries[0].object_id == str(cid)
    assert entries[1].summary == "changed: email, phone, email consent"
    assert entries[3].summary == "added to 1 customer matching a filter"  # not the search text
    written = " ".join(f"{e.summary} {e.object_id}" for e in entries)
    for secret in (EMAIL, PHONE, "Lovelace", "Ada"):
        assert secret not in written


def test_without_an_actor_the_system_is_named(session: Session) -> None:
    segments.create_segment(session, "Everyone", {"op": "and", "rules": []})
    session.commit()
    (entry,) = _entries(session)
    assert (entry.actor, entry.actor_id, entry.action) == ("system", None, "segment.create")


def test_campaign_lifecycle_is_recorded(session: Session) -> None:
    with audit.acting_as(OWNER):
        campaign = campaigns.create_campaign(session, "Autumn menu", "newsletter")
        campaigns.update_campaign(session, campaign.id, {"subject": "New menu"})
        copy = campaigns.duplicate_campaign(session, campaign.id)
        campaigns.delete_campaign(session, copy.id)
        sending.schedule_send(session, campaign.id, datetime.now(UTC) + timedelta(days=1))
        sending.unschedule(session, campaign.id)
        sending.unschedule(session, campaign.id)  # nothing happens: nothing recorded
        save_business_identity(session, business_identity(session))
    assert _actions(session) == [
        "campaign.create",
        "campaign.update",
        "campaign.duplicate",
        "campaign.delete",
        "campaign.schedule",
        "campaign.unschedule",
        "settings.business",
    ]
    update = _entries(session)[1]
    assert update.summary == "changed: subject" and update.object_id == str(campaign.id)


def test_account_changes_are_recorded(session: Session) -> None:
    with audit.acting_as(audit.Actor(None, "cli:root")):
        auth.create_user(session, "second", "long-enough-pw", "admin")
        auth.create_user(session, "counter", "long-enough-pw", "staff")
        auth.set_password(session, "counter", "another-long-pw")
        auth.disable_user(session, "counter")
        auth.enable_user(session, "counter")
    session.commit()
    entries = _entries(session)
    assert [e.action for e in entries] == [
        "user.create",
        "user.create",
        "user.set_password",
        "user.disable",
        "user.enable",
    ]
    assert all(e.actor == "cli:root" for e in entries)
    assert all("pw" not in e.summary for e in entries)


def test_listing_filters_and_pages_newest_first(session: Session) -> None:
    with audit.acting_as(OWNER):
        for i in range(7):
            tags.create_tag(session, f"tag{i}")
    with audit.acting_as(audit.Actor(8, "helper")):
        segments.create_segment(session, "Regulars", {"op": "and", "rules": []})
    session.commit()

    first = audit.list_entries(session, audit.AuditFilter(), limit=3)
    assert [e.action for e in first.entries] == ["segment.create", "tag.create", "tag.create"]
    seen = [e.id for e in first.entries]
    cursor = first.next_cursor
    while cursor:
        page = audit.list_entries(session, audit.AuditFilter(), cursor, limit=3)
        seen += [e.id for e in page.entries]
        cursor = page.next_cursor
    assert len(seen) == 8 and seen == sorted(seen, reverse=True)

    assert len(audit.list_entries(session, audit.AuditFilter(actor="helper")).entries) == 1
    assert len(audit.list_entries(session, audit.AuditFilter(action="tag")).entries) == 7
    assert audit.list_entries(session, audit.AuditFilter(action="ta")).entries == []
    one = audit.list_entries(session, audit.AuditFilter(object_type="tag", object_id="3"))
    assert [e.object_id for e in one.entries] == ["3"]
    today = datetime.now(UTC).date().isoformat()
    since, until = audit.day_range(today, today)
    assert (
        len(audit.list_entries(session, audit.AuditFilter(since=since, until=until)).entries) == 8
    )
    since, _ = audit.day_range("2999-01-01", "")
    assert audit.list_entries(session, audit.AuditFilter(since=since)).entries == []
    assert audit.actors(session) == ["helper", "owner"]
    with pytest.raises(ValueError, match="no longer available"):
        audit.list_entries(session, audit.AuditFilter(), "not-a-cursor")


def test_the_first_run_seed_is_one_summary_entry(session: Session) -> None:
    from marketing_ui.core.demo_data import seed_demo

    assert seed_demo(session, admin_password="long-enough-pw", customers=5)
    (entry,) = _entries(session)
    assert entry.action == "setup.first_run"
    assert entry.summary == "admin and counter accounts, 5 demo customers, a segment and a campaign"
    tags.create_tag(session, "after")  # the seed's quiet spell is over
    assert _actions(session)[-1] == "tag.create"
