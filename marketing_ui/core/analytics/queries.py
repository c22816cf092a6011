"""The named SQL statements of analytics (queries.sql), rendered for a session's database.

Analytics writes no SQL anywhere else: rollup and reports ask for a statement by name. The
placeholders a statement may hold and the bind parameters typed by name are described at the
top of queries.sql; both rules live here.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.sql.elements import BindParameter, TextClause
from sqlmodel import Session

from marketing_ui.core.analytics.hours import day_sql, hour_sql

QUERIES_FILE = Path(__file__).with_name("queries.sql")
LIST_PARAMS = frozenset({"ids", "live", "reached", "reported", "sent", "types"})  # bound as IN (…)
TIME_PARAMS = frozenset({"now", "at", "since", "until"})  # bound the way the ORM stores them
_NAME = re.compile(r"^-- name: ([a-z0-9-]+)\s*$")
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")  # SQLAlchemy's own pattern for :name


def load(path: Path = QUERIES_FILE) -> dict[str, str]:
    """Statements by name, in file order; comment lines are left out (they are for readers)."""
    queries: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        named = _NAME.match(line)
        if named:
            if named[1] in queries:
                raise ValueError(f"{path.name}: query {named[1]!r} is named twice")
            current = queries[named[1]] = []
        elif current is not None and line.strip() and not line.lstrip().startswith("--"):
            current.append(line)
    return {name: "\n".join(lines) for name, lines in queries.items()}


QUERIES = load()


class _Bucket:
    """`{hour:COLUMN}` / `{day:COLUMN}`: the format spec is the column."""

    def __init__(self, dialect: str, of_day: bool) -> None:
        self.dialect, self.of_day = dialect, of_day

    def __format__(self, column: str) -> str:
        return (day_sql if self.of_day else hour_sql)(self.dialect, column)


class _ChannelFilter:
    """`{channel:ALIAS}`: a condition on ALIAS.channel, only when a channel was chosen."""

    def __init__(self, channel: str | None) -> None:
        self.channel = channel

    def __format__(self, alias: str) -> str:
        return f" AND {alias}.channel = :channel" if self.channel else ""


# Which events are a person's: the one clause A/B tests count clicks with (Event.machine is set
# for proxy and scanner opens and clicks, core/engagement.py).
HUMAN_EVENTS_SQL = " AND NOT {alias}.machine"


class _HumanFilter:
    """`{human:ALIAS}`: only events a person made (HUMAN_EVENTS_SQL on ALIAS)."""

    def __format__(self, alias: str) -> str:
        return HUMAN_EVENTS_SQL.format(alias=alias)


def render(name: str, dialect: str, channel: str | None = None, **numbers: int) -> str:
    """The SQL text of a named statement for a dialect (KeyError for an unknown name)."""
    return QUERIES[name].format_map(
        {
            "hour": _Bucket(dialect, of_day=False),
            "day": _Bucket(dialect, of_day=True),
            "channel": _ChannelFilter(channel),
            "human": _HumanFilter(),
            **{key: int(value) for key, value in numbers.items()},
        }
    )


def statement(name: str, dialect: str, channel: str | None = None, **numbers: int) -> TextClause:
    """A named statement ready to execute, its list and timestamp parameters typed by name."""
    rendered = render(name, dialect, channel, **numbers)
    binds: list[BindParameter[object]] = []
    for param in sorted(set(_BIND.findall(rendered))):
        if param in LIST_PARAMS:
            binds.append(bindparam(param, expanding=True))
        elif param in TIME_PARAMS:
            binds.append(bindparam(param, type_=DateTime(timezone=True)))
    return text(rendered).bindparams(*binds)


def sql(session: Session, name: str, channel: str | None = None, **numbers: int) -> TextClause:
    """`statement` for the session's database."""
    return statement(name, session.get_bind().dialect.name, channel, **numbers)
