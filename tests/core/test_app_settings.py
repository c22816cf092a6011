"""Settings forms: wrong values are refused with the field named, and unshown fields survive a save."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from marketing_ui.core.app_settings import (
    SendingLimits,
    SettingsError,
    business_identity,
    is_timezone,
    save_sending_limits,
    sending_limits,
    update_business_identity,
    update_sending_limits,
)


def test_an_unknown_time_zone_is_refused_and_the_stored_one_kept(session: Session) -> None:
    update_business_identity(session, {"timezone": "Europe/Paris"})

    with pytest.raises(SettingsError) as info:
        update_business_identity(session, {"business_name": "Bistro", "timezone": "Mars/Olympus"})

    assert str(info.value).startswith("Time zone: “Mars/Olympus” is not a time zone")
    stored = business_identity(session)
    assert stored.timezone == "Europe/Paris" and stored.business_name != "Bistro"


@pytest.mark.parametrize("name", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_iana_zones_are_accepted(name: str) -> None:
    assert is_timezone(name)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "utc ", "../etc/passwd", "EST5EDT,M3"])
def test_other_names_are_not_time_zones(name: str) -> None:
    assert not is_timezone(name)


def test_a_rate_that_is_not_a_number_names_the_field_and_what_it_expects(
    session: Session,
) -> None:
    with pytest.raises(SettingsError) as info:
        update_sending_limits(session, {"email_requests_per_s": "abc", "emails_per_request": "1.5"})

    assert info.value.problems == [
        "Email API requests per second: expected a number, got “abc”.",
        "Emails per request (batch size): expected a whole number, got “1.5”.",
    ]
    assert "could not convert" not in str(info.value)
    assert sending_limits(session) == SendingLimits()  # nothing stored


@pytest.mark.parametrize("value", ["nan", "inf", "", "  "])
def test_no_number_at_all_is_refused(session: Session, value: str) -> None:
    with pytest.raises(
        SettingsError, match="SMS segments per second, per sending number: expected"
    ):
        update_sending_limits(session, {"sms_segments_per_s": value})


def test_out_of_range_values_name_their_field(session: Session) -> None:
    with pytest.raises(SettingsError) as info:
        update_sending_limits(
            session,
            {"emails_per_request": "101", "sms_segments_per_s": "-1", "quiet_end_hour": "24"},
        )

    assert info.value.problems == [
        "SMS segments per second, per sending number: expected 0 (no limit) to 10,000.",
        "Emails per request (batch size): expected 1 to 100 (the provider's largest batch).",
        "SMS quiet hours end: expected an hour from 0 to 23.",
    ]


def test_a_rate_so_slow_a_campaign_would_seem_stuck_is_refused(session: Session) -> None:
    with pytest.raises(SettingsError, match="at least one an hour"):
        update_sending_limits(session, {"email_requests_per_s": "0.0001"})


def test_limits_read_in_the_providers_terms_with_their_ceiling(session: Session) -> None:
    limits = sending_limits(session)
    assert (limits.email_requests_per_s, limits.emails_per_request) == (5.0, 100)
    assert limits.sms_segments_per_s == 1.0
    assert limits.describe() == {
        "email": "up to 500 emails/s (5 requests × 100)",
        "sms": "up to 60 SMS segments a minute per sending number",
    }


def test_the_environment_fixes_limits_over_the_settings_page(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from marketing_ui.core.app_settings import fixed_by_environment
    from marketing_ui.core.config import reset_settings_cache

    monkeypatch.setenv("EMAIL_REQUESTS_PER_S", "2")
    monkeypatch.setenv("EMAILS_PER_REQUEST", "50")
    reset_settings_cache()
    with pytest.raises(SettingsError, match="set by EMAIL_REQUESTS_PER_S in the environment"):
        update_sending_limits(session, {"email_requests_per_s": "9"})
    saved = update_sending_limits(session, {"email_requests_per_s": "2", "max_attempts": "3"})
    assert (saved.email_requests_per_s, saved.emails_per_request, saved.max_attempts) == (2, 50, 3)
    assert fixed_by_environment(SendingLimits) == {
        "email_requests_per_s": 2.0,
        "emails_per_request": 50,
    }
    monkeypatch.delenv("EMAIL_REQUESTS_PER_S")
    monkeypatch.delenv("EMAILS_PER_REQUEST")
    reset_settings_cache()
    assert sending_limits(session).email_requests_per_s == 5  # the page never stored a change


def test_saving_the_limits_form_keeps_the_fields_it_does_not_show(session: Session) -> None:
    save_sending_limits(session, SendingLimits(quiet_start_hour=22, quiet_end_hour=7))
    form_without_quiet_hours = {
        "email_requests_per_s": " 25 ",
        "emails_per_request": "50",
        "sms_segments_per_s": "2",
        "max_attempts": "4",
        "failure_threshold_pct": "15",
        "not_a_setting": "ignored",
    }

    saved = update_sending_limits(session, form_without_quiet_hours)

    assert saved == sending_limits(session)
    assert (saved.quiet_start_hour, saved.quiet_end_hour) == (22, 7)
    assert (saved.email_requests_per_s, saved.emails_per_request, saved.max_attempts) == (25, 50, 4)


def test_saving_part_of_the_identity_keeps_the_rest(session: Session) -> None:
    update_business_identity(session, {"timezone": "America/Chicago", "logo": "mine.png"})

    saved = update_business_identity(session, {"business_name": " Trattoria "})

    assert saved.business_name == "Trattoria"
    assert (saved.timezone, saved.logo) == ("America/Chicago", "mine.png")
