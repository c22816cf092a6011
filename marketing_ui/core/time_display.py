"""How a stored time is shown to the owner: in the business time zone, in one of three styles.

Times are stored in UTC (a naive value is read as UTC). Tables and detail views use
`format_datetime` ("2026-11-30 18:00 CET"), date-only places use `format_date` ("2026-11-30",
also what a date input holds), and coupon wording uses `format_day_and_time`
("Sun 30 Nov 2026, 18:00").
"""

from __future__ import annotations

from datetime import datetime

from marketing_ui.core.clock import as_utc, zone_or_utc


def _local(value: datetime, timezone: str) -> datetime:
    return as_utc(value).astimezone(zone_or_utc(timezone))  # type: ignore[union-attr]


def format_datetime(value: datetime | None, timezone: str = "UTC", *, seconds: bool = False) -> str:
    """ "2026-11-30 18:00 UTC": to the minute (or second), with the zone's abbreviation."""
    if value is None:
        return ""
    local = _local(value, timezone)
    clock = "%H:%M:%S" if seconds else "%H:%M"
    return local.strftime(f"%Y-%m-%d {clock} %Z")


def format_date(value: datetime | None, timezone: str = "UTC") -> str:
    """ "2026-11-30": the business's calendar day of a moment."""
    return _local(value, timezone).date().isoformat() if value is not None else ""


def format_day_and_time(value: datetime | None, timezone: str = "UTC") -> str:
    """ "Sun 30 Nov 2026, 18:00": how a coupon states its expiry and redemption."""
    if value is None:
        return ""
    local = _local(value, timezone)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M}"
