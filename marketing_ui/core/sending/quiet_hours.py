"""SMS quiet hours: marketing texts go out only between 08:00 and 21:00 in the recipient's zone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as phone_timezone

from marketing_ui.core import clock

QUIET_NOTE = "waiting for quiet hours to end"  # Delivery.error; the state is wait_reason


@lru_cache(maxsize=65536)
def zone_of_number(e164: str) -> str | None:
    """The first time zone phonenumbers gives for the number's region (Unknown -> None)."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    zones = [z for z in phone_timezone.time_zones_for_number(number) if clock.zone(z) is not None]
    return zones[0] if zones else None


def recipient_zone(phone: str, override: str | None, fallback: str = "UTC") -> ZoneInfo:
    """The customer's own setting wins; else the phone number's region; else the business zone."""
    for name in (override, zone_of_number(phone) if phone else None, fallback, "UTC"):
        found = clock.zone(name)
        if found is not None:
            return found
    return ZoneInfo("UTC")


def next_allowed(
    now: datetime, zone: ZoneInfo, start_hour: int = 8, end_hour: int = 21
) -> datetime:
    """`now` when sending is allowed in `zone`, else the UTC instant the window next opens.

    `start_hour` opens the window and `end_hour` closes it; equal hours mean "no quiet hours".
    """
    if start_hour == end_hour:
        return now
    local = now.astimezone(zone)
    hour = local.hour
    inside = (
        start_hour <= hour < end_hour
        if start_hour < end_hour
        else hour >= start_hour or hour < end_hour
    )
    if inside:
        return now
    day = local.date() if hour < start_hour else local.date() + timedelta(days=1)
    opening = datetime.combine(day, time(start_hour), tzinfo=zone)
    # A DST gap can skip the opening hour; fromutc round-trip lands on the next real instant.
    return opening.astimezone(UTC)
