"""Customer export: everyone, a listing filter or a segment, as a CSV streamed in batches.

`export_rows` is the one door every export goes through, so the audit log of exports is a
single call added there (it already receives who asked and what scope). Customers are read
in keyset batches of BATCH rows, each batch in its own short transaction: a million
customers cost one batch of memory and hold no long lock. Every cell goes through the
shared formula rule (`core.csv_safety`).

The browser never carries the filter in the download URL (a search can be an email address,
and URLs end up in proxy logs): the page asks for a ticket, a random token kept in Redis for
TICKET_TTL_S that names the scope and the admin it was issued to, used once.
"""

from __future__ import annotations

import calendar
import csv
import hashlib
import io
import json
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from marketing_ui.core import audit, redis_keys
from marketing_ui.core.clock import utcnow
from marketing_ui.core.csv_safety import safe_row
from marketing_ui.core.customers import CustomerFilter, filter_clause, row_select, rows_from_select
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Customer
from marketing_ui.core.redis_client import get_redis
from marketing_ui.core.segments import compile_rules, get_segment, segment_rules

HEADER = (
    "First name",
    "Last name",
    "Email",
    "Phone",
    "Birthday",
    "Email consent",
    "SMS consent",
    "Tags",
    "Created (UTC)",
)
BATCH = 1000
TICKET_TTL_S = 300
_TICKET = re.compile(r"[A-Za-z0-9_-]{32}")


@dataclass(frozen=True)
class ExportScope:
    """Which customers: a listing filter, a saved segment, or (neither) everyone."""

    filter: CustomerFilter | None = None
    segment_id: int | None = None

    @property
    def kind(self) -> str:
        if self.segment_id is not None:
            return "segment"
        return "filter" if self.filter is not None else "all"


def _clause(scope: ExportScope, now: datetime, engine: Engine | None) -> ColumnElement[bool]:
    """The scope's WHERE clause; LookupError if its segment was deleted meanwhile."""
    if scope.segment_id is not None:
        with session_scope(engine) as session:
            rules = segment_rules(get_segment(session, scope.segment_id))
        return compile_rules(rules, now)
    if scope.filter is not None:
        return filter_clause(scope.filter)
    return Customer.erased_at.is_(None)  # erased customers are no one's customers any more


def count_scope(scope: ExportScope, engine: Engine | None = None) -> int:
    """How many customers an export of `scope` holds right now."""
    clause = _clause(scope, utcnow(), engine)
    with session_scope(engine) as session:
        query = select(func.count()).select_from(Customer).where(clause)
        return int(session.execute(query).scalar_one())


def export_rows(
    scope: ExportScope, *, requested_by: int, batch: int = BATCH, engine: Engine | None = None
) -> Iterator[list[object]]:
    """The header, then one neutralised row per customer, read lazily in id batches.

    The one place an export starts (audit it here). The scope is resolved before the first
    row, so a deleted segment raises LookupError instead of a truncated file.
    """
    clause = _clause(scope, utcnow(), engine)  # relative segment dates fixed for the whole file
    with session_scope(engine) as session:
        detail = f"segment #{scope.segment_id}" if scope.segment_id is not None else scope.kind
        audit.record(session, "customer.export", "customer", None, f"{detail} as CSV")
    return _rows(clause, batch, engine)


def _rows(clause: ColumnElement[bool], batch: int, engine: Engine | None) -> Iterator[list[object]]:
    yield list(HEADER)
    after = 0
    while True:
        with session_scope(engine) as session:
            query = row_select().where(clause, Customer.id > after).order_by(Customer.id)
            rows = rows_from_select(session, query.limit(batch))
            born = _birthdays(session, [r.id for r in rows])
        for r in rows:
            yield safe_row(
                [
                    r.first_name,
                    r.last_name,
                    r.email,
                    r.phone,
                    born.get(r.id, ""),
                    "yes" if r.email_consent else "no",
                    "yes" if r.sms_consent else "no",
                    ", ".join(t.name for t in r.tags),
                    r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                ]
            )
        if len(rows) < batch:
            return
        after = rows[-1].id


def _birthdays(session: Session, ids: list[int]) -> dict[int, str]:
    """Customer id -> birthday as the import reads it back: 1990-05-17, or May 17 without a year
    (not --05-17, which a spreadsheet would take for a formula)."""
    if not ids:
        return {}
    query = select(
        Customer.id, Customer.birthday_month, Customer.birthday_day, Customer.birthday_year
    ).where(Customer.id.in_(ids), Customer.birthday_month.is_not(None))
    return {
        cid: (f"{y:04d}-{m:02d}-{d:02d}" if y else f"{calendar.month_abbr[m]} {d}")
        for cid, m, d, y in session.execute(query)
    }


def csv_chunks(rows: Iterable[list[object]], rows_per_chunk: int = 500) -> Iterator[bytes]:
    """UTF-8 CSV with a BOM (Excel then reads accents right), a few hundred rows per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    for n, row in enumerate(rows, start=1):
        writer.writerow(row)
        if n % rows_per_chunk == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


# Tickets ----------------------------------------------------------------------------------------


def _key(ticket: str) -> str:
    digest = hashlib.sha256(ticket.encode()).hexdigest()  # Redis holds no usable ticket
    return redis_keys.customer_export(digest)


def issue_ticket(scope: ExportScope, user_id: int) -> str:
    """A single-use download ticket for `scope`, valid TICKET_TTL_S for `user_id` only."""
    ticket = secrets.token_urlsafe(24)
    payload = {
        "user": user_id,
        "segment_id": scope.segment_id,
        "filter": asdict(scope.filter) if scope.filter is not None else None,
    }
    get_redis().set(_key(ticket), json.dumps(payload), ex=TICKET_TTL_S)
    return ticket


def redeem_ticket(ticket: str, user_id: int) -> ExportScope | None:
    """The ticket's scope if it is live and was issued to `user_id`; it is used up either way."""
    if not _TICKET.fullmatch(ticket):
        return None
    raw = get_redis().getdel(_key(ticket))
    if raw is None:
        return None
    payload = json.loads(raw)
    if payload.get("user") != user_id:
        return None
    filt = payload.get("filter")
    return ExportScope(
        filter=CustomerFilter(**filt) if filt is not None else None,
        segment_id=payload.get("segment_id"),
    )
