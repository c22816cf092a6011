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


def test_the_print_card_links_a_checked_download_and_names_a_bad_field(app_db: None) -> None:
    state = _page()
    assert state.print_format == "tent" and state.print_error == ""
    assert state.print_href.startswith("/api/print/tent.pdf?src=table-tent&cta=Join+our+list")
    state.set_print_format("poster-letter")
    state.set_print_source("Front-Window")
    state.set_print_cta("Free dessert when you join")
    assert state.print_href == (
        "/api/print/poster-letter.pdf?src=front-window&cta=Free+dessert+when+you+join"
    )
    state.set_print_source("front window")
    assert state.print_error.startswith("Source: use letters, digits and dashes only")
    assert state.print_href == ""  # no download of a request the endpoint would refuse
    state.set_print_source("window")
    state.set_print_cta("x" * 91)
    assert state.print_error.startswith("Call to action: at most 90 characters")
    state.set_print_cta("")
    assert state.print_error == "" and "src=window&cta=Join+our+list" in state.print_href
    state.set_print_format("flyer")
    assert state.print_error.startswith("Format: choose one of") and state.print_href == ""


def test_the_print_card_lists_signups_by_source(app_db: None) -> None:
    from marketing_ui.core.customers import CustomerInput, create_customer
    from marketing_ui.core.models import ConsentEvent

    assert _page().signup_sources == []
    with session_scope() as session:
        for n, origin in enumerate(["window", "window", "table-tent", ""]):
            person = create_customer(session, CustomerInput(f"P{n}", email=f"p{n}@example.com"))
            session.add(
                ConsentEvent(
                    customer_id=person.id,
                    channel="email",
                    granted=True,
                    source="confirm_link",
                    origin=origin,
                )
            )
        session.commit()
    assert _page().signup_sources == [
        {"source": "window", "signups": "2"},
        {"source": "direct", "signups": "1"},  # /join opened without a source
        {"source": "table-tent", "signups": "1"},
    ]


def test_the_print_card_warns_of_characters_no_font_prints(app_db: None) -> None:
    with session_scope() as session:
        app_settings.update_business_identity(session, {"business_name": "Sushi \U0001f363"})
    state = _page()
    assert "🍣" in state.print_warning and "prints “?”" in state.print_warning
    with session_scope() as session:
        app_settings.update_business_identity(session, {"business_name": "Ταβέρνα"})
    assert _page().print_warning == ""


def test_the_signup_card_saves_names_a_bad_value_and_shows_the_snippet(app_db: None) -> None:
    state = _page()
    assert state.signup == {"keyword": "JOIN", "embed_origins": "", "confirm_hours": "48"}
    assert '<form method="post" action="' in state.signup_snippet
    assert state.signup_join_url.endswith("/join")
    state.save_signup({**state.signup, "keyword": "stop"})
    assert state.signup_error.startswith("Not saved: Text-to-join keyword:")
    state.save_signup({**state.signup, "embed_origins": "https://ok.example ftp://x/y"})
    assert "ftp://x/y" in state.signup_error and "Websites allowed" in state.signup_error
    assert _page().signup["keyword"] == "JOIN"  # nothing half-saved
    state.save_signup(
        {"keyword": " pasta ", "embed_origins": "https://Bistro.example/", "confirm_hours": "24"}
    )
    assert state.signup_error == "" and state.signup_message == "Signup settings saved."
    assert _page().signup == {
        "keyword": "PASTA",
        "embed_origins": "https://bistro.example",
        "confirm_hours": "24",
    }


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
