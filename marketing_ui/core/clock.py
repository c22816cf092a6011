"""Time in one place: stored times are UTC, shown times are in a named IANA zone."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """An aware UTC time: SQLite hands timestamps back naive, and every time we store is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@lru_cache(maxsize=1)
def _iana_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_timezone(name: str) -> bool:
    """An IANA time zone name the system knows (Europe/Paris, America/New_York, UTC)."""
    return name in _iana_zones()


@lru_cache(maxsize=4096)
def zone(name: str | None) -> ZoneInfo | None:
    """The zone of that name, or None for an empty or unknown name."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone_or_utc(name: str | None) -> ZoneInfo:
    """The business's zone for display and dates; UTC for a value stored before it was checked."""
    return (zone(name) if name and is_timezone(name) else None) or ZoneInfo("UTC")
