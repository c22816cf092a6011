"""Recording what happened to deliveries: opens, clicks, provider outcomes, unsubscribes, STOP.

Every function takes a Session and flushes; the caller commits, so a webhook's event row and its
side effects (delivery status, suppression, consent) land in one transaction. Provider events are
stored once: the Event row is inserted first with ON CONFLICT DO NOTHING on `provider_event_id`,
and side effects run only when that insert won, so replays and concurrent retries change nothing.

Opens and clicks can also be buffered in a Redis list and written in bulk
(`buffer_tracking_event` / `flush_tracking_buffer`): a pixel hit then costs one RPUSH.

Every open and click is classified human or machine as it is stored (core/engagement.py): the
endpoint passes the reason its user agent gives, this module adds "at the send" and, for clicks,
the link burst, which also flags the burst's earlier clicks (`_flag_link_bursts`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
from sqlalchemy import Table, bindparam, delete, or_, select, update
from sqlmodel import Session

from marketing_ui.core import engagement, redis_keys
from marketing_ui.core.analytics.rollup import unfold_machine_clicks
from marketing_ui.core.clock import as_utc, utcnow
from marketing_ui.core.config import get_settings
from marketing_ui.core.crypto import blind_indexer, normalize_phone
from marketing_ui.core.customers import ConsentProof, set_consent
from marketing_ui.core.db import insert_ignore
from marketing_ui.core.models import (
    Channel,
    Customer,
    Delivery,
    DeliveryStatus,
    Event,
    EventType,
    SkipReason,
    Suppression,
    SuppressionReason,
)

MAX_DETAIL = 2000
MAX_PROVIDER_EVENT_ID = 128
FLUSH_BATCH = 5000

_events: Table = Event.__table__  # type: ignore[assignment]
_deliveries: Table = Delivery.__table__  # type: ignore[assignment]
_customers: Table = Customer.__table__  # type: ignore[assignment]
_suppressions: Table = Suppression.__table__  # type: ignore[assignment]

# A later, worse outcome may overwrite an earlier one; nothing overwrites a bounce or failure.
_DELIVERED_FROM = (DeliveryStatus.SENT, DeliveryStatus.INFLIGHT)
_FAILED_FROM = (DeliveryStatus.SENT, DeliveryStatus.INFLIGHT, DeliveryStatus.DELIVERED)


@dataclass(frozen=True)
class DeliveryRef:
    """The few delivery columns an event needs, so callers never load whole rows."""

    id: int
    campaign_id: int
    customer_id: int
    channel: str
    status: str
    sent_at: datetime | None = None


@dataclass(frozen=True)
class UnsubscribeOutcome:
    """What an unsubscribe did: whether consent changed and how many queued emails were skipped."""

    customer_id: int
    changed: bool
    skipped_deliveries: int


# Lookups --------------------------------------------------------------------------------

_REF_COLUMNS = (
    _deliveries.c.id,
    _deliveries.c.campaign_id,
    _deliveries.c.customer_id,
    _deliveries.c.channel,
    _deliveries.c.status,
    _deliveries.c.sent_at,
)


def delivery_ref(session: Session, delivery_id: int) -> DeliveryRef | None:
    row = session.execute(select(*_REF_COLUMNS).where(_deliveries.c.id == delivery_id)).first()
    return DeliveryRef(*row) if row else None


def delivery_by_provider_id(
    session: Session, provider_message_id: str, channel: str
) -> DeliveryRef | None:
    """The delivery a provider callback is about (Resend email id, Twilio MessageSid)."""
    if not provider_message_id or len(provider_message_id) > 128:
        return None
    row = session.execute(
        select(*_REF_COLUMNS).where(
            _deliveries.c.provider_message_id == provider_message_id,
            _deliveries.c.channel == channel,
        )
    ).first()
    return DeliveryRef(*row) if row else None


def _customer_id_by_uid(session: Session, customer_uid: str) -> int | None:
    if not customer_uid or len(customer_uid) > 32:
        return None
    return session.execute(
        select(_customers.c.id).where(_customers.c.uid == customer_uid)
    ).scalar_one_or_none()


def customer_ids_by_phone(session: Session, phone: str) -> list[int]:
    """Customers whose phone is this number (via the blind index); [] for non-numbers."""
    try:
        e164 = normalize_phone(phone, get_settings().default_region)
    except ValueError:
        return []
    bidx = blind_indexer().phone(e164)
    return list(
        session.execute(select(_customers.c.id).where(_customers.c.phone_bidx == bidx)).scalars()
    )


# Writing events -------------------------------------------------------------------------


def _aware(at: datetime | None) -> datetime:
    return as_utc(at) or utcnow()


def record_event(
    session: Session,
    type: EventType | str,
    *,
    delivery: DeliveryRef | None = None,
    campaign_id: int | None = None,
    customer_id: int | None = None,
    channel: str = Channel.EMAIL.value,
    provider_event_id: str | None = None,
    detail: str = "",
    at: datetime | None = None,
    machine_reason: str = "",
) -> bool:
    """Store one event; False (and nothing stored) when `provider_event_id` was seen before.

    `machine_reason` (an engagement.Reason) marks an open or click made by a proxy or scanner.
    """
    if provider_event_id is not None and not 0 < len(provider_event_id) <= MAX_PROVIDER_EVENT_ID:
        raise ValueError("provider event id must be 1 to 128 characters")
    values = {
        "campaign_id": delivery.campaign_id if delivery else campaign_id,
        "delivery_id": delivery.id if delivery else None,
        "customer_id": delivery.customer_id if delivery else customer_id,
        "channel": delivery.channel if delivery else channel,
        "type": str(type),
        "provider_event_id": provider_event_id,
        "detail": detail[:MAX_DETAIL],
        "machine": bool(machine_reason),
        "machine_reason": machine_reason,
        "created_at": _aware(at),
    }
    if provider_event_id is None:
        session.execute(_events.insert().values(values))
        return True
    # RETURNING tells "inserted" from "ignored" on both engines (rowcount is -1 on psycopg).
    inserted = session.execute(
        insert_ignore(session, _events).values(values).returning(_events.c.id)
    ).scalar_one_or_none()
    return inserted is not None


def _touch_activity(session: Session, customer_ids_at: dict[int, datetime]) -> None:
    """Move last_activity_at forward (never backwards: buffered events arrive late)."""
    if not customer_ids_at:
        return
    stmt = (
        update(_customers)
        .where(
            _customers.c.id == bindparam("cid"),
            or_(
                _customers.c.last_activity_at.is_(None),
                _customers.c.last_activity_at < bindparam("at"),
            ),
        )
        .values(last_activity_at=bindparam("at"))
    )
    session.connection().execute(
        stmt, [{"cid": cid, "at": at} for cid, at in sorted(customer_ids_at.items())]
    )


def _machine_reason(ref: DeliveryRef, at: datetime, user_agent_reason: str) -> str:
    """Why an open or click is a machine's, from its user agent and its time ("" if human)."""
    if user_agent_reason:
        return user_agent_reason
    if engagement.at_send(as_utc(ref.sent_at), at):
        return engagement.Reason.AT_SEND.value
    return ""


def _store_engagement(
    session: Session,
    kind: EventType,
    ref: DeliveryRef,
    detail: str,
    at: datetime | None,
    provider_event_id: str | None,
    user_agent_reason: str = "",
) -> bool:
    """Store an open or click, classified; flag a link burst; touch the customer's activity."""
    at = _aware(at)
    reason = _machine_reason(ref, at, engagement.valid_reason(user_agent_reason))
    if not record_event(
        session,
        kind,
        delivery=ref,
        provider_event_id=provider_event_id,
        detail=detail,
        at=at,
        machine_reason=reason,
    ):
        return False
    if kind == EventType.CLICKED:
        session.flush()
        _flag_link_bursts(session, {ref.id: at})
    _touch_activity(session, {ref.customer_id: at})
    session.flush()
    return True


def _record_engagement(
    session: Session,
    kind: EventType,
    delivery_id: int,
    detail: str,
    at: datetime | None,
    provider_event_id: str | None,
    user_agent_reason: str = "",
) -> bool:
    """Store the event and touch the customer's activity; False for an unknown delivery."""
    ref = delivery_ref(session, delivery_id)
    if ref is None:
        return False
    return _store_engagement(session, kind, ref, detail, at, provider_event_id, user_agent_reason)


def _flag_link_bursts(session: Session, new_clicks: dict[int, datetime]) -> int:
    """Flag every click of a link burst as machine, earlier stored ones too; returns how many.

    `new_clicks` holds the deliveries that just got clicks and the earliest new click's time;
    only clicks that could share a burst window with a new click are read. Clicks already folded into
    the rollups are taken out of the human counts (`unfold_machine_clicks`) in this transaction.
    """
    if not new_clicks:
        return 0
    earliest = min(new_clicks.values()) - timedelta(seconds=engagement.BURST_WINDOW_S)
    ids = sorted(new_clicks)
    clicks: dict[int, list[tuple[int, datetime, str]]] = {}
    machine: set[int] = set()
    for chunk_start in range(0, len(ids), 900):  # stay under SQLite's bound-parameter limit
        rows = session.execute(
            select(_events.c.id, _events.c.delivery_id, _events.c.created_at, _events.c.detail,
                   _events.c.machine)
            .where(
                _events.c.delivery_id.in_(ids[chunk_start : chunk_start + 900]),
                _events.c.type == EventType.CLICKED.value,
                _events.c.created_at >= earliest,
            )
        )  # fmt: skip
        for event_id, delivery_id, created_at, url, is_machine in rows:
            clicks.setdefault(delivery_id, []).append((event_id, as_utc(created_at), url))
            if is_machine:
                machine.add(event_id)
    flip: set[int] = set()
    for delivery_clicks in clicks.values():
        if len(delivery_clicks) >= engagement.BURST_LINKS:
            flip |= engagement.burst_members(delivery_clicks) - machine  # type: ignore[operator]
    if not flip:
        return 0
    flipped = sorted(flip)
    for chunk_start in range(0, len(flipped), 900):
        session.execute(
            update(_events)
            .where(_events.c.id.in_(flipped[chunk_start : chunk_start + 900]))
            .values(machine=True, machine_reason=engagement.Reason.LINK_BURST.value)
        )
    unfold_machine_clicks(session, flipped)
    return len(flipped)


def record_open(
    session: Session,
    delivery_id: int,
    *,
    at: datetime | None = None,
    provider_event_id: str | None = None,
    detail: str = "",
    user_agent_reason: str = "",
) -> bool:
    """Store every open (unique opens are DISTINCT delivery_id in analytics); False if unknown.

    `user_agent_reason` is `engagement.classify_user_agent` of the request (never the agent).
    """
    return _record_engagement(
        session, EventType.OPENED, delivery_id, detail, at, provider_event_id, user_agent_reason
    )


def record_click(
    session: Session,
    delivery_id: int,
    url: str,
    *,
    at: datetime | None = None,
    provider_event_id: str | None = None,
    user_agent_reason: str = "",
) -> bool:
    """Store every click with its destination (top links come from `detail`); False if unknown."""
    return _record_engagement(
        session, EventType.CLICKED, delivery_id, url, at, provider_event_id, user_agent_reason
    )


# Provider outcomes ----------------------------------------------------------------------


def _set_status(
    session: Session,
    delivery: DeliveryRef,
    status: DeliveryStatus,
    allowed_from: Iterable[str],
    error: str | None = None,
) -> bool:
    values: dict[str, object] = {"status": status.value, "updated_at": utcnow()}
    if error is not None:
        values["error"] = error[:MAX_DETAIL]
    result = session.execute(
        update(_deliveries)
        .where(
            _deliveries.c.id == delivery.id,
            _deliveries.c.status.in_([str(s) for s in allowed_from]),
        )
        .values(values)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def record_provider_event(
    session: Session,
    delivery: DeliveryRef,
    type: EventType,
    *,
    provider_event_id: str,
    detail: str = "",
    at: datetime | None = None,
) -> bool:
    """Sent / delayed / opened / clicked as reported by a provider; no status change.

    Opens and clicks are classified like the pixel's (by time: providers send no user agent).
    """
    if type in (EventType.OPENED, EventType.CLICKED):
        return _store_engagement(session, type, delivery, detail, at, provider_event_id)
    stored = record_event(
        session, type, delivery=delivery, provider_event_id=provider_event_id, detail=detail, at=at
    )
    session.flush()
    return stored


def mark_delivered(
    session: Session, delivery: DeliveryRef, *, provider_event_id: str, at: datetime | None = None
) -> bool:
    if not record_event(
        session, EventType.DELIVERED, delivery=delivery, provider_event_id=provider_event_id, at=at
    ):
        return False
    _set_status(session, delivery, DeliveryStatus.DELIVERED, _DELIVERED_FROM)
    session.flush()
    return True


def mark_failed(
    session: Session,
    delivery: DeliveryRef,
    reason: str,
    *,
    provider_event_id: str,
    at: datetime | None = None,
) -> bool:
    """A provider reports it could not deliver (Twilio undelivered/failed)."""
    if not record_event(
        session,
        EventType.FAILED,
        delivery=delivery,
        provider_event_id=provider_event_id,
        detail=reason,
        at=at,
    ):
        return False
    _set_status(session, delivery, DeliveryStatus.FAILED, _FAILED_FROM, error=reason)
    session.flush()
    return True


def _suppress(
    session: Session,
    channel: str,
    value_bidx: str | None,
    reason: SuppressionReason,
    detail: str = "",
) -> None:
    if value_bidx:
        session.execute(
            insert_ignore(session, _suppressions).values(
                channel=channel,
                value_bidx=value_bidx,
                reason=reason.value,
                detail=detail[:255],
                created_at=utcnow(),
            )
        )


def skip_pending(
    session: Session, customer_id: int, channel: str, reason: str, why: SkipReason
) -> int:
    """Queued deliveries of this customer on this channel will not go out (takes effect now)."""
    result = session.execute(
        update(_deliveries)
        .where(
            _deliveries.c.customer_id == customer_id,
            _deliveries.c.channel == channel,
            _deliveries.c.status == DeliveryStatus.PENDING.value,
        )
        .values(
            status=DeliveryStatus.SKIPPED.value,
            error=reason,
            skip_reason=why.value,
            updated_at=utcnow(),
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _contact_bidx(session: Session, customer_id: int, channel: str) -> str | None:
    """The blind index of the customer's address on a channel (email or phone)."""
    column = _customers.c.email_bidx if channel == Channel.EMAIL else _customers.c.phone_bidx
    return session.execute(
        select(column).where(_customers.c.id == customer_id)
    ).scalar_one_or_none()


def apply_bounce(
    session: Session,
    delivery: DeliveryRef,
    *,
    hard: bool,
    reason: str,
    provider_event_id: str,
    at: datetime | None = None,
) -> bool:
    """Hard bounce: delivery bounced, address suppressed, consent withdrawn ('bounce').

    Email: a permanent bounce; SMS: Twilio reports the number does not exist. Either way the
    channel of the delivery is the one suppressed.
    """
    if not record_event(
        session,
        EventType.BOUNCED,
        delivery=delivery,
        provider_event_id=provider_event_id,
        detail=reason,
        at=at,
    ):
        return False
    if hard:
        channel = delivery.channel
        _set_status(session, delivery, DeliveryStatus.BOUNCED, _FAILED_FROM, error=reason)
        bidx = _contact_bidx(session, delivery.customer_id, channel)
        _suppress(session, channel, bidx, SuppressionReason.BOUNCE, reason)
        set_consent(session, delivery.customer_id, channel, False, "bounce", reason[:255])
        skip_pending(
            session, delivery.customer_id, channel, "bounced address", SkipReason.SUPPRESSED
        )
    session.flush()
    return True


def apply_complaint(
    session: Session, delivery: DeliveryRef, *, provider_event_id: str, at: datetime | None = None
) -> bool:
    """A spam complaint: suppress the address and withdraw email consent ('complaint')."""
    if not record_event(
        session, EventType.COMPLAINED, delivery=delivery, provider_event_id=provider_event_id, at=at
    ):
        return False
    bidx = _contact_bidx(session, delivery.customer_id, Channel.EMAIL.value)
    _suppress(session, Channel.EMAIL.value, bidx, SuppressionReason.COMPLAINT)
    set_consent(session, delivery.customer_id, "email", False, "complaint", "spam complaint")
    skip_pending(
        session, delivery.customer_id, Channel.EMAIL.value, "spam complaint", SkipReason.SUPPRESSED
    )
    session.flush()
    return True


# Unsubscribe and SMS keywords ----------------------------------------------------------


def unsubscribe(
    session: Session,
    customer_uid: str,
    campaign_id: int | None,
    source: str = "unsubscribe_link",
    note: str = "",
    proof_hash: str | None = None,
) -> UnsubscribeOutcome | None:
    """Withdraw email consent now and skip queued emails; None when the customer is gone."""
    customer_id = _customer_id_by_uid(session, customer_uid)
    if customer_id is None:
        return None
    note = note or (f"campaign #{campaign_id}" if campaign_id else "")
    proof = ConsentProof(proof_hash=proof_hash)
    changed = set_consent(session, customer_id, Channel.EMAIL.value, False, source, note, proof)
    skipped = skip_pending(
        session, customer_id, Channel.EMAIL.value, "unsubscribed", SkipReason.CONSENT
    )
    if changed:
        delivery_id = None
        if campaign_id:
            delivery_id = session.execute(
                select(_deliveries.c.id).where(
                    _deliveries.c.campaign_id == campaign_id,
                    _deliveries.c.customer_id == customer_id,
                    _deliveries.c.channel == Channel.EMAIL.value,
                )
            ).scalar_one_or_none()
        session.execute(
            _events.insert().values(
                campaign_id=campaign_id,
                delivery_id=delivery_id,
                customer_id=customer_id,
                channel=Channel.EMAIL.value,
                type=EventType.UNSUBSCRIBED.value,
                detail=note[:MAX_DETAIL],
                created_at=utcnow(),
            )
        )
    session.flush()
    return UnsubscribeOutcome(customer_id, changed, skipped)


def resubscribe(
    session: Session,
    customer_uid: str,
    campaign_id: int | None,
    source: str = "unsubscribe_link",
    proof_hash: str | None = None,
) -> bool | None:
    """Give email consent back from the confirmation page; None when the customer is gone."""
    customer_id = _customer_id_by_uid(session, customer_uid)
    if customer_id is None:
        return None
    note = "resubscribed" + (f" (campaign #{campaign_id})" if campaign_id else "")
    proof = ConsentProof(proof_hash=proof_hash)
    changed = set_consent(session, customer_id, Channel.EMAIL.value, True, source, note, proof)
    session.flush()
    return changed


def sms_opt_out(
    session: Session, phone: str, *, keyword: str = "STOP", provider_event_id: str | None = None
) -> int:
    """An SMS STOP: suppress the number (even if unknown) and withdraw SMS consent ('stop').

    Returns how many customers changed. The suppression makes a later import with consent=yes
    unable to message the number again until it texts START.
    """
    try:
        e164 = normalize_phone(phone, get_settings().default_region)
    except ValueError:
        return 0
    if provider_event_id is not None and not record_event(
        session,
        EventType.UNSUBSCRIBED,
        channel=Channel.SMS.value,
        provider_event_id=provider_event_id,
        detail=keyword,
    ):
        return 0
    _suppress(session, Channel.SMS.value, blind_indexer().phone(e164), SuppressionReason.STOP)
    changed = 0
    for customer_id in customer_ids_by_phone(session, e164):
        if set_consent(session, customer_id, Channel.SMS.value, False, "stop", f"{keyword} reply"):
            changed += 1
        skip_pending(session, customer_id, Channel.SMS.value, "replied STOP", SkipReason.CONSENT)
    session.flush()
    return changed


def sms_opt_in(session: Session, phone: str, *, keyword: str = "START") -> int:
    """START/UNSTOP: lift the STOP suppression (not bounce ones) and give SMS consent back."""
    try:
        e164 = normalize_phone(phone, get_settings().default_region)
    except ValueError:
        return 0
    session.execute(
        delete(_suppressions).where(
            _suppressions.c.channel == Channel.SMS.value,
            _suppressions.c.value_bidx == blind_indexer().phone(e164),
            _suppressions.c.reason == SuppressionReason.STOP.value,
        )
    )
    changed = 0
    for customer_id in customer_ids_by_phone(session, e164):
        if set_consent(session, customer_id, Channel.SMS.value, True, "stop", f"{keyword} reply"):
            changed += 1
    session.flush()
    return changed


# Buffered opens and clicks --------------------------------------------------------------


def tracking_buffer_key() -> str:
    return redis_keys.tracking_buffer()


def encode_tracking_event(
    kind: str,
    delivery_id: int,
    url: str = "",
    user_agent_reason: str = "",
    at: float | None = None,
) -> bytes:
    """One buffered open ('o') or click ('c'), timestamped now, as stored in the Redis list.

    The user agent itself is never buffered: only the engagement.Reason it gave ("m").
    """
    ts = time.time() if at is None else at
    item: dict[str, object] = {"k": kind, "d": delivery_id, "t": round(ts, 3)}
    if url:
        item["u"] = url
    if user_agent_reason:
        item["m"] = user_agent_reason
    return json.dumps(item, separators=(",", ":")).encode()


def buffer_tracking_event(
    client: redis.Redis,
    key: str,
    kind: str,
    delivery_id: int,
    url: str = "",
    user_agent_reason: str = "",
) -> None:
    """Queue an open or click for `flush_tracking_buffer`; one RPUSH, no DB work."""
    client.rpush(key, encode_tracking_event(kind, delivery_id, url, user_agent_reason))


@dataclass(frozen=True)
class _Buffered:
    kind: str  # "o" or "c"
    delivery_id: int
    at: datetime
    url: str
    user_agent_reason: str


def _parse_buffered(raw: bytes) -> _Buffered | None:
    try:
        item = json.loads(raw)
        kind, delivery_id, ts = item["k"], item["d"], item["t"]
        url = item.get("u", "")
        if kind not in ("o", "c") or not isinstance(delivery_id, int) or not isinstance(url, str):
            return None
        at = datetime.fromtimestamp(float(ts), UTC)
        return _Buffered(kind, delivery_id, at, url, engagement.valid_reason(item.get("m", "")))
    except (ValueError, TypeError, KeyError, OverflowError, AttributeError):
        return None


def flush_tracking_buffer(
    session: Session, client: redis.Redis, key: str, limit: int = FLUSH_BATCH
) -> int:
    """Pop up to `limit` buffered opens/clicks and write them in bulk; returns events stored.

    Popping is atomic (LPOP count), so any number of flushers may run. If the write fails the
    items are pushed back to the head of the list; a process killed between pop and commit loses
    at most one batch of opens/clicks (never a provider event: those are not buffered).
    """
    raw_items: list[bytes] = client.lpop(key, limit) or []  # type: ignore[assignment]
    if not raw_items:
        return 0
    try:
        stored = write_tracking_items(session, raw_items)
        session.commit()
    except Exception:
        session.rollback()
        client.lpush(key, *reversed(raw_items))
        raise
    return stored


def write_tracking_items(session: Session, raw_items: list[bytes]) -> int:
    """Bulk-write encoded opens/clicks (malformed items and unknown deliveries are dropped)."""
    return _write_buffered(session, [p for p in map(_parse_buffered, raw_items) if p])


def _write_buffered(session: Session, items: list[_Buffered]) -> int:
    if not items:
        return 0
    refs: dict[int, DeliveryRef] = {}
    ids = sorted({item.delivery_id for item in items})
    for chunk_start in range(0, len(ids), 900):  # stay under SQLite's bound-parameter limit
        chunk = ids[chunk_start : chunk_start + 900]
        for row in session.execute(select(*_REF_COLUMNS).where(_deliveries.c.id.in_(chunk))):
            refs[row[0]] = DeliveryRef(*row)
    rows = []
    latest: dict[int, datetime] = {}
    clicked: dict[int, datetime] = {}  # delivery -> its earliest click in this batch
    for item in items:
        ref = refs.get(item.delivery_id)
        if ref is None:
            continue
        reason = _machine_reason(ref, item.at, item.user_agent_reason)
        rows.append(
            {
                "campaign_id": ref.campaign_id,
                "delivery_id": ref.id,
                "customer_id": ref.customer_id,
                "channel": ref.channel,
                "type": EventType.OPENED.value if item.kind == "o" else EventType.CLICKED.value,
                "provider_event_id": None,
                "detail": item.url[:MAX_DETAIL],
                "machine": bool(reason),
                "machine_reason": reason,
                "created_at": item.at,
            }
        )
        if item.at > latest.get(ref.customer_id, datetime.min.replace(tzinfo=UTC)):
            latest[ref.customer_id] = item.at
        if item.kind == "c" and item.at < clicked.get(ref.id, datetime.max.replace(tzinfo=UTC)):
            clicked[ref.id] = item.at
    if rows:
        session.connection().execute(_events.insert(), rows)
        _flag_link_bursts(session, clicked)
        _touch_activity(session, latest)
    return len(rows)


def events_for_delivery(session: Session, delivery_id: int) -> list[tuple[str, str]]:
    """(type, detail) of a delivery's events in order; for the outbox view and tests."""
    return [
        (row[0], row[1])
        for row in session.execute(
            select(_events.c.type, _events.c.detail)
            .where(_events.c.delivery_id == delivery_id)
            .order_by(_events.c.id)
        )
    ]
