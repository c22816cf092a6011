"""Campaign rules: edits stop once sending starts, every edit bumps the version, history is kept."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from marketing_ui.core.app_settings import update_business_identity
from marketing_ui.core.audience import Audience
from marketing_ui.core.campaigns import (
    CampaignError,
    CampaignFilter,
    archive_campaign,
    audience_summary,
    create_campaign,
    delete_campaign,
    duplicate_campaign,
    get_campaign,
    headline_numbers,
    list_campaigns,
    save_audience,
    update_campaign,
    validate_for_send,
)
from marketing_ui.core.clock import as_utc, utcnow
from marketing_ui.core.messages import SAMPLE_COUPON_CODE, clear_compiled_cache, preview
from marketing_ui.core.models import (
    Campaign,
    CampaignStatus,
    Customer,
    Delivery,
    DeliveryStatus,
    Segment,
)
from marketing_ui.core.rendering import load_template


def _set_status(session: Session, campaign_id: int, status: CampaignStatus) -> None:
    campaign = session.get(Campaign, campaign_id)
    campaign.status = status
    session.add(campaign)
    session.commit()


def _deliveries(session: Session, campaign_id: int, statuses: list[DeliveryStatus]) -> None:
    for i, status in enumerate(statuses):
        customer = Customer(first_name=f"C{i}")
        session.add(customer)
        session.flush()
        session.add(
            Delivery(
                campaign_id=campaign_id, customer_id=customer.id, channel="email", status=status
            )
        )
    session.commit()


def test_create_from_template_takes_body_subject_and_sender(session: Session) -> None:
    campaign = create_campaign(session, "  Monday   special ", "monday_special")
    assert campaign.name == "Monday special"
    assert campaign.status == CampaignStatus.DRAFT
    assert campaign.mjml_body == load_template("monday_special")
    assert "Monday special" in campaign.subject
    assert campaign.from_email == "hello@example.com"  # the Settings default
    assert campaign.version == 1


def test_the_monday_special_starts_with_its_qr_coupon_on(session: Session) -> None:
    update_business_identity(session, {"timezone": "America/Los_Angeles"})

    campaign = create_campaign(session, "Monday", "monday_special")

    assert campaign.has_qr_code
    assert campaign.offer_text == "2-for-1 fresh pasta, all day Monday"
    local = as_utc(campaign.offer_expires_at).astimezone(ZoneInfo("America/Los_Angeles"))
    today = datetime.now(ZoneInfo("America/Los_Angeles")).date()
    assert local.date() == today + timedelta(days=14)
    assert (local.hour, local.minute) == (23, 59)  # valid all of its last day
    assert validate_for_send(session, campaign) == []  # ready to send as it is
    clear_compiled_cache()  # compiled emails are cached by campaign id; test databases reuse ids
    shown = preview(session, campaign)
    assert not shown.errors
    assert "YOUR PERSONAL COUPON" in shown.html and SAMPLE_COUPON_CODE in shown.html
    assert "2-for-1 fresh pasta, all day Monday" in shown.html


def test_a_template_without_an_offer_starts_without_a_coupon(session: Session) -> None:
    campaign = create_campaign(session, "News", "newsletter")

    assert not campaign.has_qr_code
    assert campaign.offer_text == "" and campaign.offer_expires_at is None


def test_create_refuses_missing_name_and_unknown_template(session: Session) -> None:
    with pytest.raises(CampaignError, match="needs a name"):
        create_campaign(session, "   ")
    with pytest.raises(CampaignError, match="no template"):
        create_campaign(session, "X", "../../etc/passwd")


def test_every_update_bumps_the_version(session: Session) -> None:
    campaign = create_campaign(session, "News", "newsletter")
    updated = update_campaign(session, campaign.id, {"subject": "Hello\nBcc: evil"})
    assert updated.version == 2
    assert updated.subject == "Hello Bcc: evil"  # a line break can never reach a header
    again = update_campaign(session, campaign.id, {"name": "News 2"}, expected_version=2)
    assert again.version == 3


def test_stale_edit_is_refused(session: Session) -> None:
    campaign = create_campaign(session, "News", "newsletter")
    update_campaign(session, campaign.id, {"subject": "First tab"})
    with pytest.raises(CampaignError, match="Someone else saved"):
        update_campaign(session, campaign.id, {"subject": "Second tab"}, expected_version=1)
    assert get_campaign(session, campaign.id).subject == "First tab"


@pytest.mark.parametrize("status", [CampaignStatus.SENDING, CampaignStatus.SENT])
def test_editing_after_sending_started_is_refused(session: Session, status: str) -> None:
    campaign = create_campaign(session, "Launch", "announcement")
    _set_status(session, campaign.id, status)
    with pytest.raises(CampaignError, match=f"is {status} and can no longer be edited"):
        update_campaign(session, campaign.id, {"subject": "Too late"})
    session.expire_all()
    assert get_campaign(session, campaign.id).version == 1


def test_broken_mjml_is_not_saved_and_names_its_line(session: Session) -> None:
    campaign = create_campaign(session, "Broken", "blank")
    broken = campaign.mjml_body.replace("</mj-column>", "</mj-section>", 1)
    with pytest.raises(CampaignError, match=r"Line \d+: MJML error"):
        update_campaign(session, campaign.id, {"mjml_body": broken})
    with pytest.raises(CampaignError, match="unknown field"):
        update_campaign(session, campaign.id, {"subject": "Hi {{ frist_name }}"})
    assert get_campaign(session, campaign.id).version == 1


def test_uneditable_fields_are_refused(session: Session) -> None:
    campaign = create_campaign(session, "X")
    with pytest.raises(CampaignError, match="cannot be edited: status"):
        update_campaign(session, campaign.id, {"status": "sent"})


def test_duplicate_is_a_draft_copy_with_the_audience(session: Session) -> None:
    campaign = create_campaign(session, "Monday", "monday_special")
    save_audience(session, campaign.id, Audience(everyone=False, tag_ids=[3]))
    _set_status(session, campaign.id, CampaignStatus.SENT)
    copy = duplicate_campaign(session, campaign.id)
    assert copy.id != campaign.id
    assert copy.name == "Copy of Monday"
    assert copy.status == CampaignStatus.DRAFT
    assert copy.version == 1
    assert copy.mjml_body == load_template("monday_special")
    assert Audience.from_json(copy.audience_json).tag_ids == [3]


def test_delete_draft_but_archive_a_campaign_with_history(session: Session) -> None:
    draft = create_campaign(session, "Draft")
    delete_campaign(session, draft.id)
    with pytest.raises(CampaignError, match="does not exist"):
        get_campaign(session, draft.id)

    sent = create_campaign(session, "Sent")
    _deliveries(session, sent.id, [DeliveryStatus.SENT])
    _set_status(session, sent.id, CampaignStatus.CANCELLED)
    with pytest.raises(CampaignError, match="archive it instead"):
        delete_campaign(session, sent.id)
    archived = archive_campaign(session, sent.id)
    assert archived.archived
    assert [r.id for r in list_campaigns(session).rows] == []
    assert [r.id for r in list_campaigns(session, CampaignFilter(archived=True)).rows] == [sent.id]


def test_sending_campaign_can_neither_be_deleted_nor_archived(session: Session) -> None:
    campaign = create_campaign(session, "Going out")
    _set_status(session, campaign.id, CampaignStatus.SENDING)
    with pytest.raises(CampaignError, match="cannot be deleted"):
        delete_campaign(session, campaign.id)
    with pytest.raises(CampaignError, match="cannot be archived"):
        archive_campaign(session, campaign.id)


def test_list_filters_searches_sorts_and_counts(session: Session) -> None:
    a = create_campaign(session, "Alpha 100%")
    b = create_campaign(session, "beta")
    c = create_campaign(session, "Gamma")
    _deliveries(
        session,
        b.id,
        [
            DeliveryStatus.SENT,
            DeliveryStatus.DELIVERED,
            DeliveryStatus.FAILED,
            DeliveryStatus.PENDING,
        ],
    )
    _set_status(session, b.id, CampaignStatus.SENDING)
    by_name = list_campaigns(session, CampaignFilter(sort="name"))
    assert [r.name for r in by_name.rows] == ["Alpha 100%", "beta", "Gamma"]
    assert [r.id for r in list_campaigns(session, CampaignFilter(search="100%")).rows] == [a.id]
    assert [r.id for r in list_campaigns(session, CampaignFilter(search="_")).rows] == []
    sending = list_campaigns(session, CampaignFilter(status="sending")).rows
    assert [(r.id, r.recipients, r.sent, r.failed) for r in sending] == [(b.id, 4, 2, 1)]
    page = list_campaigns(session, CampaignFilter(sort="name"), offset=1, limit=1)
    assert page.total == 3 and page.has_next and [r.id for r in page.rows] == [b.id]
    assert headline_numbers(session, [c.id]) == {}


def test_audience_summary_names_segments(session: Session) -> None:
    segment = Segment(name="Regulars", rules_json="{}")
    session.add(segment)
    session.commit()
    summary = audience_summary(
        session, Audience(everyone=False, segment_ids=[segment.id]).to_json()
    )
    assert summary == "segment Regulars"
    assert audience_summary(session, "{}") == "Everyone with consent"


def test_validate_for_send_lists_every_problem(session: Session) -> None:
    campaign = create_campaign(session, "Monday", "monday_special", channel="both")
    update_campaign(
        session,
        campaign.id,
        {
            "has_qr_code": True,
            "offer_text": "",
            "offer_expires_at": None,
            "from_email": "not-an-address",
            "subject": "",
        },
    )
    problems = validate_for_send(session, get_campaign(session, campaign.id))
    text = "\n".join(problems)
    assert "needs a subject" in text
    assert "sender address" in text
    assert "SMS text is empty" in text
    assert "offer text" in text
    assert "expiry date" in text

    update_campaign(
        session,
        campaign.id,
        {
            "subject": "Hi {{ first_name }}",
            "from_email": "maria@example.com",
            "sms_body": "Hi {{ first_name | default('there') }}!",
            "offer_text": "2-for-1 pasta",
            "offer_expires_at": utcnow() + timedelta(days=7),
        },
    )
    assert validate_for_send(session, get_campaign(session, campaign.id)) == []
    _set_status(session, campaign.id, CampaignStatus.SENT)
    assert (
        "only drafts can be sent"
        in validate_for_send(session, get_campaign(session, campaign.id))[0]
    )
