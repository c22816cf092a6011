"""Automation settings: defaults off with a message each, validation naming the field, audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session

from marketing_ui.core import campaigns
from marketing_ui.core.automations import config
from marketing_ui.core.automations.config import AutomationError
from marketing_ui.core.clock import as_utc, utcnow
from marketing_ui.core.models import AuditEntry, Automation, AutomationKind, Campaign


@pytest.fixture
def ready(session: Session) -> Session:
    config.ensure_defaults(session)
    return session


def _actions(session: Session) -> list[str]:
    return list(session.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars())


def test_defaults_are_off_with_a_message_and_idempotent(ready: Session) -> None:
    config.ensure_defaults(ready)  # a second run changes nothing
    shown = config.list_automations(ready)
    assert [a.kind for a in shown] == ["welcome", "birthday", "winback", "thank_you"]
    assert not any(a.enabled for a in shown)
    by_kind = {a.kind: a for a in shown}
    assert by_kind["welcome"].delay_hours == 1
    assert (by_kind["birthday"].days_before, by_kind["birthday"].offer_valid_days) == (7, 14)
    assert (by_kind["winback"].inactive_days, by_kind["winback"].period_days) == (45, 90)
    assert (by_kind["thank_you"].delay_hours, by_kind["thank_you"].period_days) == (3, 30)
    templates = ready.execute(select(Campaign).where(Campaign.automation_id.is_not(None))).all()
    assert len(templates) == 4
    for view in shown:
        message = ready.get(Campaign, view.template_campaign_id)
        assert message.automation_id == view.id
        assert "STOP" in message.sms_body
        assert "{{ unsubscribe_url }}" in message.mjml_body
        assert campaigns.automation_of_template(ready, message.id) == view.kind
    assert (
        "Welcome to {{ business_name }}"
        in ready.get(Campaign, by_kind["welcome"].template_campaign_id).subject
    )
    second = ready.execute(
        select(Automation).where(Automation.kind == AutomationKind.SECOND_CHANCE)
    ).scalar_one()
    assert second.enabled and second.template_campaign_id is None
    assert _actions(ready).count("automation.create") == 4


def test_templates_and_batches_stay_out_of_the_campaign_list(ready: Session) -> None:
    welcome = config.get(ready, "welcome")
    ready.add(Campaign(name="Welcome batch", automation_id=welcome.id))
    ready.add(Campaign(name="Spring menu"))
    ready.commit()
    page = campaigns.list_campaigns(ready)
    assert [r.name for r in page.rows] == ["Spring menu"] and page.total == 1
    with pytest.raises(campaigns.CampaignError, match="automation"):
        campaigns.delete_campaign(ready, welcome.template_campaign_id)
    with pytest.raises(campaigns.CampaignError, match="automation"):
        campaigns.archive_campaign(ready, welcome.template_campaign_id)
    message = campaigns.get_campaign(ready, welcome.template_campaign_id)
    assert any("welcome automation" in p for p in campaigns.validate_for_send(ready, message))


@pytest.mark.parametrize(
    ("kind", "field", "value", "words"),
    [
        ("welcome", "delay_hours", "0", "Delay (hours)"),
        ("welcome", "delay_hours", "-3", "Delay (hours)"),
        ("welcome", "delay_hours", "soon", "Delay (hours)"),
        ("thank_you", "period_days", "0", "At most once every (days)"),
        ("birthday", "days_before", "61", "Days before the birthday"),
        ("birthday", "offer_valid_days", "366", "Offer valid for (days)"),
        ("winback", "inactive_days", "0", "Days without a visit"),
        ("welcome", "channel", "fax", "Channel"),
    ],
)
def test_bad_settings_name_the_field_and_store_nothing(
    ready: Session, kind: str, field: str, value: str, words: str
) -> None:
    before = config.get(ready, kind)
    with pytest.raises(AutomationError) as caught:
        config.update(ready, kind, {field: value})
    assert words in str(caught.value) and caught.value.field == field
    ready.expire_all()
    assert config.get(ready, kind) == before
    assert "automation.update" not in _actions(ready)


def test_good_settings_are_stored_and_audited(ready: Session) -> None:
    view = config.update(ready, "birthday", {"days_before": "0", "offer_valid_days": "30"})
    assert (view.days_before, view.offer_valid_days) == (0, 30)
    view = config.update(ready, "welcome", {"include_imports": "on", "delay_hours": "2"})
    assert view.include_imports and view.delay_hours == 2
    assert _actions(ready).count("automation.update") == 2


def test_channel_must_match_the_message(ready: Session) -> None:
    view = config.get(ready, "winback")
    message = ready.get(Campaign, view.template_campaign_id)
    message.sms_body = ""
    ready.add(message)
    ready.commit()
    with pytest.raises(AutomationError, match="Channel") as caught:
        config.update(ready, "winback", {"channel": "both"})
    assert caught.value.field == "channel"
    assert config.update(ready, "winback", {"channel": "email"}).channel == "email"


def test_switching_on_needs_a_message_and_starts_now(ready: Session) -> None:
    view = config.get(ready, "birthday")
    message = ready.get(Campaign, view.template_campaign_id)
    message.mjml_body = ""
    ready.add(message)
    ready.commit()
    with pytest.raises(AutomationError, match="Write the message first"):
        config.set_enabled(ready, "birthday", True)
    ready.expire_all()
    assert not config.get(ready, "birthday").enabled

    message = ready.get(Campaign, view.template_campaign_id)
    message.mjml_body = campaigns.load_template("blank")
    ready.add(message)
    ready.commit()
    before = utcnow()
    on = config.set_enabled(ready, "birthday", True)
    assert on.enabled and as_utc(on.enabled_at) >= before
    off = config.set_enabled(ready, "birthday", False)
    assert not off.enabled
    assert _actions(ready)[-2:] == ["automation.enable", "automation.disable"]


def test_second_chance_is_validated_on_save(session: Session) -> None:
    campaign = campaigns.create_campaign(session, "Spring", "blank", subject="Spring is here")
    with pytest.raises(campaigns.CampaignError, match="Second chance hours"):
        campaigns.update_campaign(session, campaign.id, {"second_chance_hours": "0"})
    with pytest.raises(campaigns.CampaignError, match="Second chance hours"):
        campaigns.update_campaign(session, campaign.id, {"second_chance_hours": "337"})
    with pytest.raises(campaigns.CampaignError, match="Second chance subject is required"):
        campaigns.update_campaign(session, campaign.id, {"second_chance_hours": "24"})
    with pytest.raises(campaigns.CampaignError, match="differ"):
        campaigns.update_campaign(
            session,
            campaign.id,
            {"second_chance_hours": "24", "second_chance_subject": "Spring is here"},
        )
    saved = campaigns.update_campaign(
        session,
        campaign.id,
        {"second_chance_hours": "24", "second_chance_subject": "Did you miss this?"},
    )
    assert (saved.second_chance_hours, saved.second_chance_subject) == (24, "Did you miss this?")
    off = campaigns.update_campaign(session, campaign.id, {"second_chance_hours": ""})
    assert off.second_chance_hours is None
