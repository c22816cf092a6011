"""Segments: saved JSON rules compiled to one SQL WHERE clause over customer.

Rule shapes (groups nest freely, up to MAX_DEPTH):
    {"op": "and" | "or", "rules": [rule, ...]}      an empty "and" matches everyone
    {"op": "not", "rule": rule}
    {"type": "tags", "mode": "any" | "all" | "none", "tags": [tag_id, ...]}
    {"type": "consent", "channel": "email" | "sms", "value": true | false}
    {"type": "created", "op": "before" | "after", "value": "2026-01-01"}   before: < that day,
    {"type": "created", "op": "last_days", "value": 30}                      after: on or after it
    {"type": "received_campaign" | "opened_campaign" | "clicked_campaign", "campaign_id": 3}
    {"type": "redeemed", "campaign_id": null | 3}                          null: any coupon
    {"type": "inactive_days", "value": 90}     no activity (or, never active, created) in N days
    {"type": "no_visit_days", "value": 60}     visited before, but not in the last N days
    {"type": "never_visited"}                  no visit ever (no redemption, no check-in)
    {"type": "visits_in_days", "count": 3, "days": 30}   at least K visits in the last N days
    {"type": "visit_count", "value": 5}        at least K visits in all
    {"type": "birthday_month", "value": 4}     birthday in month M (1-12)

"No visit in N days" leaves out customers who never visited: a lapsed regular and someone
who never came in are different audiences (a win-back offer vs a first-visit offer), so
"never visited" is its own rule; match either with an "any" group of the two. Visit rules
read the summary columns core/visits.py keeps in step, except "K visits in the last N
days", a semi-join over the visits of that window grouped per customer.

Activity rules are semi-joins (`customer.id IN (SELECT customer_id ... WHERE ...)`) rather
than correlated EXISTS: the same meaning, but SQLite then builds the id set once instead of
probing per customer row, and PostgreSQL plans both as a hash semi-join anyway. Subqueries
exclude NULL customer ids so that NOT stays correct.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, not_, or_, select, true
from sqlmodel import Session

from marketing_ui.core import audit
from marketing_ui.core.clock import as_utc, utcnow
from marketing_ui.core.customers import (
    CustomerRow,
    has_tag_clause,
    row_select,
    rows_from_select,
)
from marketing_ui.core.models import (
    Coupon,
    CouponStatus,
    Customer,
    Delivery,
    DeliveryStatus,
    Event,
    EventType,
    Segment,
    Visit,
)

MAX_DEPTH = 8
MAX_RULES = 100
MAX_DAYS = 36_500
MAX_VISITS = 10_000
RECEIVED_STATUSES = (DeliveryStatus.SENT.value, DeliveryStatus.DELIVERED.value)
_CAMPAIGN_RULES = ("received_campaign", "opened_campaign", "clicked_campaign")
_VISIT_RULES = ("no_visit_days", "never_visited", "visits_in_days", "visit_count")
_LEAF_TYPES = (
    "tags",
    "consent",
    "created",
    "redeemed",
    "inactive_days",
    *_CAMPAIGN_RULES,
    *_VISIT_RULES,
    "birthday_month",
)

Rules = dict[str, Any]


@dataclass(frozen=True)
class SegmentCount:
    id: int
    name: str
    rules: Rules
    customers: int
    updated_at: datetime


# Validation ---------------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_day(value: object, where: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{where}.value: give a date as YYYY-MM-DD")
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        raise ValueError(f"{where}.value: {value!r} is not a date (YYYY-MM-DD)") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _check_days(value: object, where: str) -> int:
    if not _is_int(value) or not 0 < value <= MAX_DAYS:  # type: ignore[operator]
        raise ValueError(f"{where}.value: give a whole number of days between 1 and {MAX_DAYS}")
    return value  # type: ignore[return-value]


def _check_visits(value: object, where: str) -> int:
    if not _is_int(value) or not 0 < value <= MAX_VISITS:  # type: ignore[operator]
        raise ValueError(f"{where}: give a whole number of visits between 1 and {MAX_VISITS}")
    return value  # type: ignore[return-value]


def _check_campaign_id(value: object, where: str, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not _is_int(value) or value <= 0:  # type: ignore[operator]
        raise ValueError(f"{where}.campaign_id: pick a campaign")


def _validate(rule: object, where: str, depth: int, budget: list[int]) -> None:
    if not isinstance(rule, dict):
        raise ValueError(f"{where}: a rule must be an object")
    budget[0] -= 1
    if budget[0] < 0:
        raise ValueError(f"too many rules (at most {MAX_RULES})")
    if depth > MAX_DEPTH:
        raise ValueError(f"{where}: groups nest at most {MAX_DEPTH} deep")
    kind = rule.get("type")
    if kind is None:
        op = rule.get("op")
        if op in ("and", "or"):
            children = rule.get("rules")
            if not isinstance(children, list):
                raise ValueError(f"{where}.rules: an {op!r} group needs a list of rules")
            for i, child in enumerate(children):
                _validate(child, f"{where}.rules[{i}]", depth + 1, budget)
            return
        if op == "not":
            _validate(rule.get("rule"), f"{where}.rule", depth + 1, budget)
            return
        raise ValueError(f"{where}: needs a 'type', or an 'op' of and / or / not")
    if kind not in _LEAF_TYPES:
        raise ValueError(f"{where}.type: unknown rule type {kind!r}")
    if kind == "tags":
        if rule.get("mode") not in ("any", "all", "none"):
            raise ValueError(f"{where}.mode: choose any, all or none")
        tags = rule.get("tags")
        if not isinstance(tags, list) or not tags or not all(_is_int(t) for t in tags):
            raise ValueError(f"{where}.tags: pick at least one tag")
    elif kind == "consent":
        if rule.get("channel") not in ("email", "sms"):
            raise ValueError(f"{where}.channel: choose email or sms")
        if not isinstance(rule.get("value"), bool):
            raise ValueError(f"{where}.value: must be true or false")
    elif kind == "created":
        op = rule.get("op")
        if op in ("before", "after"):
            _parse_day(rule.get("value"), where)
        elif op == "last_days":
            _check_days(rule.get("value"), where)
        else:
            raise ValueError(f"{where}.op: choose before, after or last_days")
    elif kind in _CAMPAIGN_RULES:
        _check_campaign_id(rule.get("campaign_id"), where)
    elif kind == "redeemed":
        _check_campaign_id(rule.get("campaign_id"), where, optional=True)
    elif kind in ("inactive_days", "no_visit_days"):
        _check_days(rule.get("value"), where)
    elif kind == "visits_in_days":
        _check_visits(rule.get("count"), f"{where}.count")
        days = rule.get("days")
        if not _is_int(days) or not 0 < days <= MAX_DAYS:  # type: ignore[operator]
            raise ValueError(f"{where}.days: give a whole number of days between 1 and {MAX_DAYS}")
    elif kind == "visit_count":
        _check_visits(rule.get("value"), f"{where}.value")
    elif kind == "birthday_month":
        month = rule.get("value")
        if not _is_int(month) or not 1 <= month <= 12:  # type: ignore[operator]
            raise ValueError(f"{where}.value: choose a month from 1 (January) to 12 (December)")


def validate_rules(rules: object) -> None:
    """Raise ValueError naming the first bad part (e.g. "rules[1].tags: pick at least one tag")."""
    _validate(rules, "rules", 0, [MAX_RULES])


# Compilation --------------------------------------------------------------------------------


def _in(subquery: Select) -> ColumnElement[bool]:
    return Customer.id.in_(subquery)


def _compile(rule: Rules, now: datetime) -> ColumnElement[bool]:
    kind = rule.get("type")
    if kind is None:
        op = rule["op"]
        if op == "not":
            return not_(_compile(rule["rule"], now))
        parts = [_compile(child, now) for child in rule["rules"]]
        if op == "and":
            return and_(true(), *parts) if parts else true()
        return or_(false(), *parts) if parts else false()
    if kind == "tags":
        tag_ids = sorted(set(rule["tags"]))
        if rule["mode"] == "any":
            return has_tag_clause(tag_ids)
        if rule["mode"] == "none":
            return not_(has_tag_clause(tag_ids))
        return and_(*(has_tag_clause([t]) for t in tag_ids))
    if kind == "consent":
        column = Customer.email_consent if rule["channel"] == "email" else Customer.sms_consent
        return column == rule["value"]
    if kind == "created":
        if rule["op"] == "before":
            return Customer.created_at < _parse_day(rule["value"], "rules")
        if rule["op"] == "after":
            return Customer.created_at >= _parse_day(rule["value"], "rules")
        return Customer.created_at >= now - timedelta(days=rule["value"])
    if kind == "received_campaign":
        return _in(
            select(Delivery.customer_id).where(
                Delivery.campaign_id == rule["campaign_id"],
                Delivery.status.in_(RECEIVED_STATUSES),
            )
        )
    if kind in ("opened_campaign", "clicked_campaign"):
        event_type = EventType.OPENED if kind == "opened_campaign" else EventType.CLICKED
        return _in(
            select(Event.customer_id).where(
                Event.campaign_id == rule["campaign_id"],
                Event.type == event_type.value,
                Event.customer_id.is_not(None),
            )
        )
    if kind == "redeemed":
        query = select(Coupon.customer_id).where(Coupon.status == CouponStatus.REDEEMED.value)
        if rule.get("campaign_id") is not None:
            query = query.where(Coupon.campaign_id == rule["campaign_id"])
        return _in(query)
    if kind == "inactive_days":
        cutoff = now - timedelta(days=rule["value"])
        return func.coalesce(Customer.last_activity_at, Customer.created_at) < cutoff
    if kind == "no_visit_days":
        # The explicit IS NOT NULL keeps NOT a true complement: NOT matches the never-visited.
        return and_(
            Customer.last_visit_at.is_not(None),
            Customer.last_visit_at < now - timedelta(days=rule["value"]),
        )
    if kind == "never_visited":
        return Customer.last_visit_at.is_(None)
    if kind == "visits_in_days":
        return _in(
            select(Visit.customer_id)
            .where(Visit.at >= now - timedelta(days=rule["days"]))
            .group_by(Visit.customer_id)
            .having(func.count(Visit.id) >= rule["count"])
        )
    if kind == "visit_count":
        return Customer.visit_count >= rule["value"]
    if kind == "birthday_month":
        return and_(Customer.birthday_month.is_not(None), Customer.birthday_month == rule["value"])
    raise ValueError(f"unknown rule type {kind!r}")  # validate_rules makes this unreachable


def compile_rules(rules: Rules, now: datetime | None = None) -> ColumnElement[bool]:
    """One WHERE clause over customer; relative dates ("last 30 days") are taken from `now`.

    Erased customers (kept only for anonymous analytics) never match a segment.
    """
    validate_rules(rules)
    return and_(_compile(rules, now or utcnow()), Customer.erased_at.is_(None))


def matching_ids_select(rules: Rules, now: datetime | None = None) -> Select:
    """SELECT customer.id of the audience: INSERT ... SELECT from it to freeze deliveries."""
    return select(Customer.id).where(compile_rules(rules, now))


def count_matching(session: Session, rules: Rules, now: datetime | None = None) -> int:
    query = select(func.count()).select_from(Customer).where(compile_rules(rules, now))
    return int(session.execute(query).scalar_one())


def sample_matching(
    session: Session, rules: Rules, limit: int = 10, now: datetime | None = None
) -> list[CustomerRow]:
    """The newest matching customers, shown under the live count in the builder."""
    query = row_select().where(compile_rules(rules, now)).order_by(Customer.id.desc()).limit(limit)
    return rows_from_select(session, query)


def tag_ids_in(rules: Rules) -> set[int]:
    """Tags a segment refers to, so a tag delete can warn about the segments it changes."""
    found: set[int] = set()
    if rules.get("type") == "tags":
        found.update(rules.get("tags", []))
    for child in rules.get("rules", []) or []:
        found |= tag_ids_in(child)
    if isinstance(rules.get("rule"), dict):
        found |= tag_ids_in(rules["rule"])
    return found


# Saved segments -----------------------------------------------------------------------------


def _clean_name(session: Session, name: str, except_id: int | None = None) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValueError("A segment needs a name.")
    if len(name) > 120:
        raise ValueError("A segment name can have at most 120 characters.")
    query = select(Segment.id).where(func.lower(Segment.name) == name.lower())
    if except_id is not None:
        query = query.where(Segment.id != except_id)
    if session.execute(query).first():
        raise ValueError(f"A segment named {name!r} already exists.")
    return name


def segment_rules(segment: Segment) -> Rules:
    return json.loads(segment.rules_json or "{}") or {"op": "and", "rules": []}


def get_segment(session: Session, segment_id: int) -> Segment:
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise LookupError(f"Segment #{segment_id} does not exist.")
    return segment


def create_segment(session: Session, name: str, rules: Rules) -> Segment:
    validate_rules(rules)
    segment = Segment(name=_clean_name(session, name), rules_json=json.dumps(rules))
    session.add(segment)
    session.flush()
    audit.record(session, "segment.create", "segment", segment.id, f"named {segment.name!r}")
    return segment


def update_segment(
    session: Session, segment_id: int, name: str | None = None, rules: Rules | None = None
) -> Segment:
    segment = get_segment(session, segment_id)
    if name is not None:
        segment.name = _clean_name(session, name, except_id=segment_id)
    if rules is not None:
        validate_rules(rules)
        segment.rules_json = json.dumps(rules)
    segment.updated_at = utcnow()
    changed = [w for w, v in (("name", name), ("rules", rules)) if v is not None]
    audit.record(session, "segment.update", "segment", segment_id, "changed: " + ", ".join(changed))
    session.flush()
    return segment


def delete_segment(session: Session, segment_id: int) -> None:
    segment = get_segment(session, segment_id)
    audit.record(session, "segment.delete", "segment", segment_id, f"was {segment.name!r}")
    session.delete(segment)
    session.flush()


def list_segments_with_counts(session: Session) -> list[SegmentCount]:
    """Every segment with its live count (one COUNT query each, all in SQL)."""
    out: list[SegmentCount] = []
    segments = session.execute(select(Segment).order_by(func.lower(Segment.name))).scalars().all()
    for segment in segments:
        rules = segment_rules(segment)
        try:
            count = count_matching(session, rules)
        except ValueError:
            count = 0  # a rule saved by an older version; the builder shows what is wrong
        updated = as_utc(segment.updated_at)
        out.append(SegmentCount(segment.id, segment.name, rules, count, updated))  # type: ignore[arg-type]
    return out


def choices(session: Session, limit: int | None = None) -> list[tuple[int, str]]:
    """(id, name) of segments by name, without the counts the Segments page computes."""
    query = select(Segment.id, Segment.name).order_by(func.lower(Segment.name)).limit(limit)
    return [(int(i), str(n)) for i, n in session.execute(query)]
