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
        update_sending_limits(session, {"email_rate_per_s": "abc", "email_burst": "1.5"})

    assert info.value.problems == [
        "Email messages per second: expected a number, got “abc”.",
        "Email burst: expected a whole number, got “1.5”.",
    ]
    assert "could not convert" not in str(info.value)
    assert sending_limits(session) == SendingLimits()  # nothing stored


@pytest.mark.parametrize("value", ["nan", "inf", "", "  "])
def test_no_number_at_all_is_refused(session: Session, value: str) -> None:
    with pytest.raises(SettingsError, match="SMS per second: expected a number"):
        update_sending_limits(session, {"sms_rate_per_s": value})


def test_out_of_range_values_name_their_field(session: Session) -> None:
    with pytest.raises(SettingsError) as info:
        update_sending_limits(session, {"sms_burst": "0", "quiet_end_hour": "24"})

    assert info.value.problems == [
        "SMS burst: expected at least 1.",
        "SMS quiet hours end: expected an hour from 0 to 23.",
    ]


def test_saving_the_limits_form_keeps_the_fields_it_does_not_show(session: Session) -> None:
    save_sending_limits(session, SendingLimits(quiet_start_hour=22, quiet_end_hour=7))
    form_without_quiet_hours = {
        "email_rate_per_s": " 25 ",
        "email_burst": "50",
        "sms_rate_per_s": "2",
        "sms_burst": "2",
        "max_attempts": "4",
        "failure_threshold_pct": "15",
        "not_a_setting": "ignored",
    }

    saved = update_sending_limits(session, form_without_quiet_hours)

    assert saved == sending_limits(session)
    assert (saved.quiet_start_hour, saved.quiet_end_hour) == (22, 7)
    assert (saved.email_rate_per_s, saved.email_burst, saved.max_attempts) == (25.0, 50, 4)


def test_saving_part_of_the_identity_keeps_the_rest(session: Session) -> None:
    update_business_identity(session, {"timezone": "America/Chicago", "logo": "mine.png"})

    saved = update_business_identity(session, {"business_name": " Trattoria "})

    assert saved.business_name == "Trattoria"
    assert (saved.timezone, saved.logo) == ("America/Chicago", "mine.png")
