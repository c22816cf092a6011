"""Every stored time reaches the owner in one of three styles, in the business time zone."""

from __future__ import annotations

from datetime import UTC, datetime

from marketing_ui.core.time_display import format_date, format_datetime, format_day_and_time

EVENING_UTC = datetime(2026, 11, 30, 23, 30, 5, tzinfo=UTC)


def test_table_times_carry_their_zone() -> None:
    assert format_datetime(EVENING_UTC) == "2026-11-30 23:30 UTC"
    assert format_datetime(EVENING_UTC, "Europe/Rome") == "2026-12-01 00:30 CET"
    assert format_datetime(EVENING_UTC, "UTC", seconds=True) == "2026-11-30 23:30:05 UTC"


def test_dates_are_the_business_calendar_day() -> None:
    assert format_date(EVENING_UTC, "UTC") == "2026-11-30"
    assert format_date(EVENING_UTC, "Europe/Rome") == "2026-12-01"


def test_coupon_wording() -> None:
    assert format_day_and_time(EVENING_UTC, "UTC") == "Mon 30 Nov 2026, 23:30"


def test_missing_naive_and_unknown_zone() -> None:
    assert format_datetime(None) == format_date(None) == format_day_and_time(None) == ""
    naive = EVENING_UTC.replace(tzinfo=None)  # SQLite hands some columns back naive: UTC
    assert format_datetime(naive, "Not/AZone") == "2026-11-30 23:30 UTC"
