"""Automations pages: cards load with defaults, switches work, bad input is named and stores nothing."""

from __future__ import annotations

from marketing_ui.core.automations import config
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Campaign
from marketing_ui.state.automation_settings import AutomationSettingsState
from marketing_ui.state.automations import AutomationsState
from tests.state.conftest import page_state


def _list() -> AutomationsState:
    state = page_state(AutomationsState, "/automations")
    state.load()
    return state


def _settings(kind: str) -> AutomationSettingsState:
    state = page_state(AutomationSettingsState, f"/automations/{kind}", {"kind": kind})
    state.load()
    return state


def _stored(kind: str) -> config.AutomationView:
    with session_scope() as session:
        return config.get(session, kind)


def test_the_list_shows_four_automations_off(app_db: None) -> None:
    state = _list()
    assert [c["kind"] for c in state.cards] == ["welcome", "birthday", "winback", "thank_you"]
    assert all(c["enabled"] == "" and c["sent_30"] == "0" for c in state.cards)
    birthday = state.cards[1]
    assert birthday["key"] == "7 days before the birthday" and birthday["channel"] == "Email"


def test_toggling_from_the_list(app_db: None) -> None:
    state = _list()
    state.toggle("thank_you", True)
    assert state.error == "" and state.message == "Thank-you is on."
    assert {c["kind"]: c["enabled"] for c in state.cards}["thank_you"] == "1"
    assert _stored("thank_you").enabled and _stored("thank_you").enabled_at is not None
    state.toggle("thank_you", False)
    assert not _stored("thank_you").enabled


def test_switching_on_without_a_message_is_refused(app_db: None) -> None:
    _list()
    with session_scope() as session:
        message = session.get(Campaign, config.get(session, "welcome").template_campaign_id)
        message.subject = ""
        session.add(message)
    state = _settings("welcome")
    state.toggle(True)
    assert "Write the message first" in state.error and not state.enabled
    assert not _stored("welcome").enabled


def test_settings_page_loads_saves_and_refuses_bad_input(app_db: None) -> None:
    state = _settings("birthday")
    assert not state.not_found and state.name == "Birthday"
    assert {f["name"]: f["value"] for f in state.fields} == {
        "days_before": "7",
        "offer_valid_days": "14",
    }
    assert state.template_campaign_id == _stored("birthday").template_campaign_id
    assert not state.has_data and len(state.rows) == 12

    state.save({"channel": "email", "days_before": "90", "offer_valid_days": "14"})
    assert state.error.startswith("Not saved: ") and "Days before the birthday" in state.error
    assert state.error_field == "days_before" and state.message == ""
    assert _stored("birthday").days_before == 7

    state.save({"channel": "email", "days_before": "3", "offer_valid_days": "10"})
    assert state.error == "" and state.message == "Settings saved."
    assert (_stored("birthday").days_before, _stored("birthday").offer_valid_days) == (3, 10)
    assert {f["name"]: f["value"] for f in state.fields}["days_before"] == "3"

    state.toggle(True)
    assert state.enabled and _stored("birthday").enabled


def test_an_unchecked_switch_is_stored_off(app_db: None) -> None:
    state = _settings("welcome")
    state.save({"channel": "email", "delay_hours": "2", "include_imports": "on"})
    assert _stored("welcome").include_imports
    state.save({"channel": "email", "delay_hours": "2"})  # the browser omits an unticked box
    assert not _stored("welcome").include_imports


def test_an_unknown_kind_is_not_found(app_db: None) -> None:
    state = _settings("second_chance")
    assert state.not_found
    state.toggle(True)
    assert state.message == ""
