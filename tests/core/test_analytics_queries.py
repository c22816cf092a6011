"""Every named analytics query runs on SQLite and PostgreSQL, and every one is used.

Run against empty tables, a statement with a syntax error or a column the models do not have
fails here on the dialect that rejects it, before a dashboard ever loads.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from marketing_ui.core.analytics import queries, rollup
from marketing_ui.core.models import EventType

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SAMPLE: dict[str, object] = {  # a value for every bind parameter name in queries.sql
    "at": NOW,
    "channel": "email",
    "cid": 1,
    "currency": "USD",
    "d": 1,
    "folded": 1,
    "hi": 500_000,
    "hour": 1,
    "ids": [1, 2],
    "limit": 10,
    "live": [s.value for s in rollup.LIVE_CAMPAIGN_STATUSES],
    "lo": 0,
    "marker": rollup.TALLY_MARKER,
    "n": "event",
    "no_receipts": rollup.NO_RECEIPTS,
    "now": NOW,
    "p": 1,
    "reached": ["sent", "delivered"],
    "redeemed": "redeemed",
    "reported": [s.value for s in rollup.REPORTED_STATUSES],
    "rid": 0,
    "last_rid": 0,
    "sent": [s.value for s in rollup.SENT_STATUSES],
    "series": rollup.SENT_SERIES,
    "since": NOW,
    "t": 1,
    "types": [EventType.OPENED.value, rollup.SENT_SERIES],
    "until": NOW,
}
PACKAGE = Path(queries.__file__).parent
_QUERY_NAME = re.compile(r'"([a-z0-9]+(?:-[a-z0-9]+)+)"')


def _variants(name: str) -> list[str | None]:
    """With and without the channel filter, when the statement has one."""
    return ["email", None] if "{channel:" in queries.QUERIES[name] else [None]


def test_every_named_query_runs_on_this_dialect(engine: Engine) -> None:
    dialect = engine.dialect.name
    failures: list[str] = []
    ran = 0
    with engine.connect() as conn:
        # File order is run order: the fold's temp table exists when its statements run.
        for name in queries.QUERIES:
            for channel in _variants(name):
                stmt = queries.statement(name, dialect, channel, lo=0, hi=500_000)
                try:
                    with conn.begin():
                        conn.execute(stmt, SAMPLE)
                    ran += 1
                except SQLAlchemyError as exc:
                    cause = getattr(exc, "orig", None) or exc
                    failures.append(f"{name} (channel={channel}) on {dialect}: {cause}")
    assert not failures, "\n".join(failures)
    assert ran >= len(queries.QUERIES)


def test_every_bind_parameter_has_a_sample_value() -> None:
    """Otherwise the test above would fail on a missing value rather than on the SQL."""
    for name in queries.QUERIES:
        for channel in _variants(name):
            params = queries.statement(name, "sqlite", channel, lo=0, hi=1).compile().params
            assert set(params) <= set(SAMPLE), name


def test_every_named_query_is_used_and_every_used_name_exists() -> None:
    used: set[str] = set()
    for module in PACKAGE.glob("*.py"):
        if module.name == "queries.py":  # the loader names no query
            continue
        used |= set(_QUERY_NAME.findall(module.read_text(encoding="utf-8")))
    assert used - set(queries.QUERIES) == set(), "used in code, missing from queries.sql"
    assert set(queries.QUERIES) - used == set(), "in queries.sql, never used"
