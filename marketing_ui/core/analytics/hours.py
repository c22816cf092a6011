"""UTC hour buckets, the unit of every rollup: the SQL expression per dialect and its Python twin.

The two must agree: rollups store `hour_sql` of an event's time, reports select them with
`to_hour` of the filter's bounds.
"""

from __future__ import annotations

from datetime import UTC, datetime

from marketing_ui.core.clock import as_utc

FAR_HOURS = 2**40  # an open end of an hour range


def hour_sql(dialect: str, column: str) -> str:
    """Whole hours since 1970 UTC of a timestamp column, as an integer, computed in SQL."""
    if dialect == "postgresql":
        return f"CAST(floor(extract(epoch FROM {column}) / 3600) AS bigint)"
    if dialect == "sqlite":
        return f"(CAST(strftime('%s', {column}) AS INTEGER) / 3600)"
    raise NotImplementedError(f"analytics supports SQLite and PostgreSQL, not {dialect}")


def day_sql(dialect: str, column: str) -> str:
    """Whole days since 1970 UTC of a timestamp column."""
    return f"({hour_sql(dialect, column)} / 24)"


def to_hour(moment: datetime) -> int:
    """The hour bucket of a Python datetime (naive values are taken as UTC)."""
    return int(utc(moment).timestamp() // 3600)


def hour_start(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, tz=UTC)


def hour_range(since: datetime | None, until: datetime | None) -> tuple[int, int]:
    """[since, until) as hour buckets; an open end is a far bound."""
    lo = to_hour(since) if since else -FAR_HOURS
    hi = to_hour(until) if until else FAR_HOURS
    return lo, hi


def utc(moment: datetime) -> datetime:
    return as_utc(moment)  # type: ignore[return-value]  # never None for a datetime


aware = as_utc  # timestamps read back from SQLite are naive UTC
