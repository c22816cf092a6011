"""Campaign editor handlers: load by route, live preview, save, and refusals that lose nothing."""

from __future__ import annotations

import pytest

from marketing_ui.core import campaigns
from marketing_ui.core.automations import config
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Campaign
from marketing_ui.state.campaign_edit import CampaignEditState, NewCampaignState
from tests.state.conftest import page_state, run


@pytest.fixture
def campaign_id(app_db: None) -> int:
    with session_scope() as session:
        made = campaigns.create_campaign(session, "Monday", "monday_special", "both")
        return int(made.id)


def _editor(campaign_id: int | str) -> CampaignEditState:
    path = f"/campaigns/{campaign_id}/edit"
    state = page_state(CampaignEditState, path, {"campaign_id": str(campaign_id)})
    run(state.load)
    return state


def _stored(campaign_id: int) -> Campaign:
    with session_scope() as session:
        found = session.get(Campaign, campaign_id)
        assert found is not None
        return found


def test_load_reads_the_campaign_named_by_the_route(campaign_id: int) -> None:
    state = _editor(campaign_id)
    assert not state.not_found and state.shown_campaign_id == campaign_id
    assert (
        state.name == "Monday" and state.editable and state.version == _stored(campaign_id).version
    )
    assert "Alex" in state.preview_html and state.preview_error == ""
    assert state.sms_counter and not state.dirty


@pytest.mark.parametrize("segment", ["0", "abc", "-3", "12345678901", "99999"])
def test_a_route_without_a_campaign_shows_not_found(campaign_id: int, segment: str) -> None:
    state = _editor(segment)
    assert state.not_found and state.shown_campaign_id == 0


def test_typing_updates_the_preview_and_marks_the_draft_unsaved(campaign_id: int) -> None:
    state = _editor(campaign_id)
    run(lambda: state.set_sms_body("Hi {{ first_name }}, 20% off today"))
    assert state.dirty and state.sms_preview.startswith("Hi Alex")
    run(lambda: state.set_sms_body("Hi {{ first_name"))
    assert state.preview_error  # a broken template is reported, not raised


def test_save_stores_the_edit_and_bumps_the_version(campaign_id: int) -> None:
    state = _editor(campaign_id)
    before = state.version
    state.set_name("Monday special")
    run(lambda: state.set_subject("This week only"))
    run(state.save)
    assert state.save_error == "" and state.save_message == f"Saved (version {before + 1})."
    stored = _stored(campaign_id)
    assert (stored.name, stored.subject, stored.version) == (
        "Monday special",
        "This week only",
        before + 1,
    )


def test_a_bad_expiry_date_is_named_and_nothing_is_stored(campaign_id: int) -> None:
    state = _editor(campaign_id)
    before = _stored(campaign_id)
    state.set_name("Changed")
    run(lambda: state.set_offer_expires("31/12/2026"))
    run(state.save)
    assert state.save_error == "The expiry date is not a valid date."
    assert state.name == "Changed"  # what was typed stays on screen
    after = _stored(campaign_id)
    assert (after.name, after.version) == (before.name, before.version)


def test_an_empty_name_is_refused_and_the_stored_campaign_kept(campaign_id: int) -> None:
    state = _editor(campaign_id)
    state.set_name("   ")
    run(state.save)
    assert state.save_error == "A campaign needs a name." and state.save_message == ""
    assert _stored(campaign_id).name == "Monday"


def test_a_save_from_a_stale_tab_is_refused(campaign_id: int) -> None:
    first, second = _editor(campaign_id), _editor(campaign_id)
    first.set_name("From the first tab")
    run(first.save)
    second.set_name("From the second tab")
    run(second.save)
    assert "Someone else saved this campaign" in second.save_error
    assert _stored(campaign_id).name == "From the first tab"


def test_new_campaign_needs_a_name_then_opens_the_editor(app_db: None) -> None:
    state = page_state(NewCampaignState, "/campaigns/new")
    state.load()
    assert any(t["name"] == "monday_special" for t in state.templates)
    state.create()
    assert state.error == "A campaign needs a name."
    state.set_name("Autumn")
    redirect = state.create()
    with session_scope() as session:
        [(made_id, name)] = campaigns.choices(session)
    assert name == "Autumn" and f"/campaigns/{made_id}/edit" in str(redirect)


def test_second_chance_is_saved_and_a_bad_one_is_named(campaign_id: int) -> None:
    state = _editor(campaign_id)
    assert state.automation_kind == "" and not state.second_chance_on
    state.set_second_chance_on(True)
    assert state.second_chance_hours == "48"
    state.set_second_chance_subject(state.subject)
    run(state.save)
    assert "Second chance subject must differ" in state.save_error
    assert _stored(campaign_id).second_chance_hours is None
    state.set_second_chance_subject("Last call for pasta")
    run(state.save)
    assert state.save_error == ""
    assert (_stored(campaign_id).second_chance_hours, state.second_chance_on) == (48, True)


def test_an_automation_message_says_whose_it_is(app_db: None) -> None:
    with session_scope() as session:
        config.ensure_defaults(session)
        template_id = config.get(session, "winback").template_campaign_id
    state = _editor(template_id)
    assert (state.automation_kind, state.automation_name) == ("winback", "Win-back")
