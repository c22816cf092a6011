"""The audit log: every admin write says who did it, to which object, and when.

Core commands call `record(session, ...)` next to the change they make, so the entry commits
(or rolls back) with it. Who is acting is set once per request by whoever received it: the
authorisation middleware for each dashboard event, the CLI for its commands; anything else
(workers, the first-run seed) records as "system". Summaries name fields and counts, never a
value that could be personal data (no emails, phones or customer names).
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, or_, select
from sqlmodel import Session

from marketing_ui.core.clock import as_utc
from marketing_ui.core.models import AuditEntry

PAGE_SIZE = 50


@dataclass(frozen=True)
class Actor:
    id: int | None
    name: str


SYSTEM = Actor(None, "system")
_current: ContextVar[Actor] = ContextVar("audit_actor", default=SYSTEM)
_muted: ContextVar[bool] = ContextVar("audit_muted", default=False)


def act_as(actor: Actor) -> Token[Actor]:
    """Make `actor` the author of what this request (context) records."""
    return _current.set(actor)


@contextlib.contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    token = _current.set(actor)
    try:
        yield
    finally:
        _current.reset(token)


@contextlib.contextmanager
def summarised() -> Iterator[None]:
    """A bulk job that records one summary entry itself, instead of one per row it writes."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def current_actor() -> Actor:
    return _current.get()


def record(
    session: Session,
    action: str,
    object_type: str,
    object_id: int | str | None = None,
    summary: str = "",
) -> None:
    """Add one entry to the caller's transaction."""
    if _muted.get():
        return
    actor = _current.get()
    session.add(
        AuditEntry(
            actor_id=actor.id,
            actor=actor.name[:80],
            action=action[:40],
            object_type=object_type[:24],
            object_id=None if object_id is None else str(object_id)[:40],
            summary=summary[:300],
        )
    )


# Reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""  # exact username, or "" for everyone
    action: str = ""  # an action ("customer.update") or its area ("customer")
    object_type: str = ""
    object_id: str = ""
    since: datetime | None = None
    until: datetime | None = None  # exclusive


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    next_cursor: str | None


def _cursor(entry: AuditEntry) -> str:
    raw = json.dumps([as_utc(entry.at).isoformat(), entry.id])  # type: ignore[union-attr]
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        at, entry_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(at), int(entry_id)
    except (ValueError, TypeError) as exc:
        raise ValueError("That page of the audit log is no longer available.") from exc


def list_entries(
    session: Session, filt: AuditFilter, cursor: str | None = None, limit: int = PAGE_SIZE
) -> AuditPage:
    """Newest first, one keyset page at a time."""
    query = select(AuditEntry)
    if filt.actor:
        query = query.where(AuditEntry.actor == filt.actor)
    if filt.action:
        query = query.where(
            or_(AuditEntry.action == filt.action, AuditEntry.action.startswith(filt.action + "."))
        )
    if filt.object_type:
        query = query.where(AuditEntry.object_type == filt.object_type)
    if filt.object_id:
        query = query.where(AuditEntry.object_id == filt.object_id)
    if filt.since:
        query = query.where(AuditEntry.at >= filt.since)
    if filt.until:
        query = query.where(AuditEntry.at < filt.until)
    if cursor:
        at, entry_id = _decode_cursor(cursor)
        query = query.where(
            or_(AuditEntry.at < at, and_(AuditEntry.at == at, AuditEntry.id < entry_id))
        )
    rows = list(
        session.execute(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit + 1))
        .scalars()
        .all()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(rows, _cursor(rows[-1]) if more and rows else None)


def actors(session: Session) -> list[str]:
    """Everyone who appears in the log, for the filter."""
    return list(
        session.execute(select(AuditEntry.actor).distinct().order_by(AuditEntry.actor)).scalars()
    )


def day_range(since: str, until: str) -> tuple[datetime | None, datetime | None]:
    """`YYYY-MM-DD` bounds (UTC days, both inclusive) as datetimes; junk is ignored."""

    def day(text: str) -> datetime | None:
        try:
            return datetime.combine(date.fromisoformat(text.strip()), time(), tzinfo=UTC)
        except ValueError:
            return None

    start, end = day(since), day(until)
    return start, (end + timedelta(days=1)) if end else None
