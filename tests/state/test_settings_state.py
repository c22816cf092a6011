"""Settings handlers: the forms show what is stored; a bad value is named and stores nothing."""

from __future__ import annotations

from marketing_ui.core import app_settings
from marketing_ui.core.db import session_scope
from marketing_ui.state.settings import SettingsState
from tests.state.conftest import page_state


def _page() -> SettingsState:
    state = page_state(SettingsState, "/settings")
    state.load()
    return state


def _identity() -> app_settings.BusinessIdentity:
    with session_scope() as session:
        return app_settings.business_identity(session)


def test_load_shows_the_stored_settings_and_the_checks(app_db: None) -> None:
    state = _page()
    assert state.business["business_name"] == "Demo Bistro"
    assert state.business["timezone"] == "UTC"
    assert state.limits["sms_segments_per_s"] == "1" and state.ceilings
    assert state.guard and state.checks and all(c["name"] for c in state.checks)
    assert state.environment == "development"


def test_saving_the_identity_stores_it(app_db: None) -> None:
    state = _page()
    state.save_business(
        {**state.business, "business_name": "Corner Cafe", "timezone": "Europe/Rome"}
    )
    assert state.business_error == "" and state.business_message == "Business identity saved."
    assert state.business["business_name"] == "Corner Cafe"
    assert (_identity().business_name, _identity().timezone) == ("Corner Cafe", "Europe/Rome")


def test_a_bad_time_zone_is_named_and_nothing_is_stored(app_db: None) -> None:
    state = _page()
    state.save_business({**state.business, "business_name": "Other", "timezone": "Mars/Olympus"})
    assert state.business_error.startswith("Not saved: ")
    assert "Time zone" in state.business_error and "Mars/Olympus" in state.business_error
    assert state.business_message == ""
    assert _identity().business_name == "Demo Bistro"  # not half-saved


def test_a_bad_sending_limit_is_refused_and_the_old_one_kept(app_db: None) -> None:
    state = _page()
    state.save_limits({**state.limits, "sms_segments_per_s": "fast"})
    assert state.limits_error == (
        "Not saved: SMS segments per second, per sending number: expected a number, got “fast”."
    )
    assert state.limits_message == ""
    assert _page().limits["sms_segments_per_s"] == "1"
    state.save_limits({**state.limits, "sms_segments_per_s": "3"})
    assert state.limits_error == "" and state.limits["sms_segments_per_s"] == "3"
    assert _page().limits["sms_segments_per_s"] == "3"


def test_a_bad_guard_limit_is_refused(app_db: None) -> None:
    state = _page()
    state.save_guard({**state.guard, "complaint_limit_pct": "-1"})
    assert state.guard_error.startswith("Not saved: Pause above spam complaints %")
    assert state.guard_message == ""
    assert _page().guard == state.guard


def test_the_frequency_cap_form_saves_and_names_a_bad_value(app_db: None) -> None:
    state = _page()
    assert state.cap == {"email_max": "3", "sms_max": "2", "window_days": "7"}
    assert state.cap_summary == "At most 3 emails and 2 texts per customer in any 7 days."
    state.save_cap({**state.cap, "window_days": "365"})
    assert state.cap_error.startswith("Not saved: Frequency cap window (days): expected")
    assert _page().cap["window_days"] == "7"
    state.save_cap({**state.cap, "email_max": "0", "window_days": "14"})
    assert state.cap_error == "" and state.cap_message.startswith("Frequency cap saved")
    assert _page().cap_summary == "At most 2 texts per customer in any 14 days; no cap on emails."


def test_the_money_form_saves_and_names_each_bad_value(app_db: None) -> None:
    state = _page()
    assert state.money == {
        "currency": "USD",
        "sms_segment_price": "0.0079",
        "email_price": "0.0004",
        "max_ticket": "10000",
    }
    state.save_money({**state.money, "sms_segment_price": "-1", "max_ticket": "lots"})
    assert state.money_error.startswith("Not saved: Price per SMS segment:")
    assert "Largest ticket amount:" in state.money_error
    assert _page().money["sms_segment_price"] == "0.0079"  # nothing stored
    state.save_money({**state.money, "currency": "EUR", "email_price": "0,0005"})
    assert state.money_error == "" and state.money_message.startswith("Money settings saved")
    assert _page().money["currency"] == "EUR" and _page().money["email_price"] == "0.0005"
