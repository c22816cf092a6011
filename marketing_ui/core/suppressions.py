"""Suppressed addresses: listing (masked), finding one by exact address, lifting one with a reason.

A suppression holds only the blind index of the address (core/crypto). The address shown is the
customer's own (decrypted and masked) when a customer still has it; an address nobody holds any
more (a deleted customer, a STOP from an unknown number) can still be found by typing it, and
is never stored in clear.

Suppressions are made where the events happen: hard bounces and complaints
(core/events.apply_bounce, apply_complaint), STOP replies (events.sms_opt_out, lifted by the
person's START in events.sms_opt_in), and addresses a provider refused when sending
(marketing_ui/core/sending/record.py). Lifting one here deletes it and keeps a SuppressionLift row (who, when,
why, what it was); it gives no consent back, so the address receives messages again only where
the customer's consent allows (core/audience.reachable_clause needs both).

Functions take a Session and flush; the caller commits.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, func, or_, select, true
from sqlmodel import Session

from marketing_ui.core import audit
from marketing_ui.core.clock import as_utc, utcnow
from marketing_ui.core.config import get_settings
from marketing_ui.core.crypto import blind_indexer, cipher, normalize_email, normalize_phone
from marketing_ui.core.customers import (
    decrypt_contact,
    looks_like_phone,
    masked_email,
    masked_phone,
)
from marketing_ui.core.models import (
    Channel,
    Customer,
    Suppression,
    SuppressionLift,
    SuppressionReason,
)
from marketing_ui.core.webhooks import storable

PAGE_SIZE = 50
MAX_NOTE = 255


class SuppressionError(ValueError):
    """A message for the page, naming the field it is about (`field`)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class SuppressionFilter:
    reason: str = ""  # a SuppressionReason value, or "" for every reason
    channel: str = ""  # "email", "sms" or "" for both


@dataclass(frozen=True)
class SuppressionRow:
    """One suppressed address as the page lists it; `address` is masked unless typed or opened."""

    id: int
    channel: str
    reason: str
    detail: str
    created_at: datetime
    address: str  # "" when no customer has this address any more
    customer_id: int | None
    consent: bool | None  # the customer's consent on this channel (None: no customer)


@dataclass(frozen=True)
class SuppressionPage:
    rows: list[SuppressionRow]
    next_cursor: str | None


@dataclass(frozen=True)
class LiftRow:
    id: int
    channel: str
    reason: str
    lifted_at: datetime
    lifted_by: str
    note: str
    address: str  # masked, "" when no customer has it


@dataclass(frozen=True)
class Lifted:
    """What lifting did, said for the person who did it."""

    suppression_id: int
    message: str


# Addresses ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Holder:
    customer_id: int
    address: str
    consent: bool


def _holders(session: Session, channel: str, bidxs: list[str]) -> dict[str, _Holder]:
    """The customers holding these blind indexes on a channel, with the address decrypted."""
    if not bidxs:
        return {}
    email = channel == Channel.EMAIL
    bidx_col = Customer.email_bidx if email else Customer.phone_bidx
    enc_col = Customer.email_enc if email else Customer.phone_enc
    consent_col = Customer.email_consent if email else Customer.sms_consent
    fc = cipher()
    out = {}
    for customer_id, uid, bidx, token, consent in session.execute(
        select(Customer.id, Customer.uid, bidx_col, enc_col, consent_col).where(bidx_col.in_(bidxs))
    ):
        address = decrypt_contact(fc, uid, "email" if email else "phone", token)
        out[bidx] = _Holder(customer_id, address, bool(consent))
    return out


def mask(channel: str, address: str) -> str:
    """n***@example.com or •••0199 (core.customers' masks); "" for no address."""
    if not address:
        return ""
    return masked_email(address) if channel == Channel.EMAIL else masked_phone(address)


def _rows(
    session: Session, suppressions: list[Suppression], typed: dict[int, str] | None = None
) -> list[SuppressionRow]:
    holders: dict[tuple[str, str], _Holder] = {}
    for channel in (Channel.EMAIL.value, Channel.SMS.value):
        found = _holders(
            session, channel, [s.value_bidx for s in suppressions if s.channel == channel]
        )
        holders.update({(channel, bidx): h for bidx, h in found.items()})
    rows = []
    for s in suppressions:
        assert s.id is not None
        holder = holders.get((s.channel, s.value_bidx))
        shown = (typed or {}).get(s.id) or (mask(s.channel, holder.address) if holder else "")
        rows.append(
            SuppressionRow(
                id=s.id,
                channel=s.channel,
                reason=s.reason,
                detail=s.detail,
                created_at=as_utc(s.created_at),  # type: ignore[arg-type]
                address=shown,
                customer_id=holder.customer_id if holder else None,
                consent=holder.consent if holder else None,
            )
        )
    return rows


# Listing -----------------------------------------------------------------------------------


def _filter_clause(filt: SuppressionFilter):  # noqa: ANN202 - a SQL condition
    parts = []
    if filt.reason:
        if filt.reason not in set(SuppressionReason):
            raise SuppressionError("Why: choose one of the listed reasons.", "reason")
        parts.append(Suppression.reason == filt.reason)
    if filt.channel:
        if filt.channel not in set(Channel):
            raise SuppressionError("Channel: choose email or SMS.", "channel")
        parts.append(Suppression.channel == filt.channel)
    return and_(true(), *parts)


def _cursor(row: Suppression) -> str:
    raw = json.dumps([as_utc(row.created_at).isoformat(), row.id])  # type: ignore[union-attr]
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        at, row_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(at), int(row_id)
    except (ValueError, TypeError) as exc:
        raise SuppressionError("That page of the list is no longer available.") from exc


def list_suppressions(
    session: Session,
    filt: SuppressionFilter | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> SuppressionPage:
    """Newest first, one keyset page at a time (the (created_at, id) index)."""
    query = select(Suppression).where(_filter_clause(filt or SuppressionFilter()))
    if cursor:
        at, row_id = _decode_cursor(cursor)
        query = query.where(
            or_(
                Suppression.created_at < at,
                and_(Suppression.created_at == at, Suppression.id < row_id),
            )
        )
    found = list(
        session.execute(
            query.order_by(Suppression.created_at.desc(), Suppression.id.desc()).limit(limit + 1)
        ).scalars()
    )
    more = len(found) > limit
    found = found[:limit]
    return SuppressionPage(_rows(session, found), _cursor(found[-1]) if more and found else None)


def count(session: Session, filt: SuppressionFilter | None = None) -> int:
    return session.execute(
        select(func.count(Suppression.id)).where(_filter_clause(filt or SuppressionFilter()))
    ).scalar_one()


def find(session: Session, typed: str) -> list[SuppressionRow]:
    """The suppression of exactly this address or number (through its blind index), if any."""
    text = typed.strip()
    if not text:
        raise SuppressionError("Find: enter a whole email address or phone number.", "find")
    if "@" in text:
        channel, value = Channel.EMAIL.value, normalize_email(text)
        bidx = blind_indexer().email(text)
    elif looks_like_phone(text):
        try:
            value = normalize_phone(text, get_settings().default_region)
        except ValueError as exc:
            raise SuppressionError(f"Find: “{text[:40]}” is {exc}.", "find") from None
        channel, bidx = Channel.SMS.value, blind_indexer().phone(value)
    else:
        raise SuppressionError(
            "Find: enter a whole email address or phone number; suppressions are found by "
            "the exact address, never by part of one.",
            "find",
        )
    found = list(
        session.execute(
            select(Suppression).where(
                Suppression.channel == channel, Suppression.value_bidx == bidx
            )
        ).scalars()
    )
    return _rows(session, found, {s.id: value for s in found if s.id is not None})


def reveal(session: Session, suppression_id: int) -> str:
    """The whole address of a listed suppression (the admin opened it); "" if nobody has it."""
    row = session.get(Suppression, suppression_id)
    if row is None:
        raise SuppressionError("This address is no longer suppressed.")
    holder = _holders(session, row.channel, [row.value_bidx]).get(row.value_bidx)
    return holder.address if holder else ""


# Lifting ------------------------------------------------------------------------------------


def check_note(note: str) -> str:
    """The admin's reason for lifting, trimmed; SuppressionError naming the field otherwise."""
    text = " ".join(note.split())
    if not text:
        raise SuppressionError("Reason: say why this address may receive messages again.", "note")
    if len(text) > MAX_NOTE:
        raise SuppressionError(
            f"Reason: at most {MAX_NOTE} characters (this one has {len(text)}).", "note"
        )
    if not storable(text):
        raise SuppressionError("Reason: contains characters that cannot be stored.", "note")
    return text


def _consent_sentence(channel: str, holder: _Holder | None) -> str:
    kind = "email" if channel == Channel.EMAIL else "SMS"
    if holder is None:
        return "No customer has this address now; it can be messaged only once one has it, with consent."
    if holder.consent:
        return f"The customer has {kind} consent, so it receives this channel's messages again."
    return (
        f"The customer has no {kind} consent (lifting gives none back), so nothing is sent "
        "until consent is recorded again on their customer page."
    )


def lift(session: Session, suppression_id: int, note: str) -> Lifted:
    """Delete one suppression, keeping who lifted it, when and why. A STOP is the person's own
    to undo (by texting START). Recorded in the audit log without the address or the note."""
    text = check_note(note)
    row = session.get(Suppression, suppression_id)
    if row is None:
        raise SuppressionError("This address is no longer suppressed (lifted meanwhile?).")
    if row.reason == SuppressionReason.STOP:
        raise SuppressionError(
            "A STOP reply can be undone only by the person: when they text START to your "
            "number, their number is lifted and their SMS consent comes back."
        )
    deleted = session.execute(delete(Suppression).where(Suppression.id == suppression_id))
    if not deleted.rowcount:  # type: ignore[attr-defined]
        raise SuppressionError("This address is no longer suppressed (lifted meanwhile?).")
    actor = audit.current_actor()
    lift_row = SuppressionLift(
        suppression_id=suppression_id,
        channel=row.channel,
        value_bidx=row.value_bidx,
        reason=row.reason,
        detail=row.detail,
        suppressed_at=as_utc(row.created_at),  # type: ignore[arg-type]
        lifted_at=utcnow(),
        lifted_by_id=actor.id,
        lifted_by=actor.name[:80],
        note=text,
    )
    session.add(lift_row)
    session.flush()
    audit.record(
        session,
        "suppression.lift",
        "suppression",
        suppression_id,
        f"{row.channel} {row.reason} suppression lifted; reason kept with lift #{lift_row.id}",
    )
    session.expunge(row)
    holder = _holders(session, row.channel, [row.value_bidx]).get(row.value_bidx)
    return Lifted(suppression_id, "Lifted. " + _consent_sentence(row.channel, holder))


def recent_lifts(session: Session, limit: int = 20) -> list[LiftRow]:
    """The latest lifts, newest first, with who, when and why."""
    lifts = list(
        session.execute(
            select(SuppressionLift)
            .order_by(SuppressionLift.lifted_at.desc(), SuppressionLift.id.desc())
            .limit(limit)
        ).scalars()
    )
    addresses: dict[tuple[str, str], str] = {}
    for channel in (Channel.EMAIL.value, Channel.SMS.value):
        found = _holders(session, channel, [x.value_bidx for x in lifts if x.channel == channel])
        addresses.update({(channel, b): mask(channel, h.address) for b, h in found.items()})
    return [
        LiftRow(
            id=x.id,  # type: ignore[arg-type]
            channel=x.channel,
            reason=x.reason,
            lifted_at=as_utc(x.lifted_at),  # type: ignore[arg-type]
            lifted_by=x.lifted_by,
            note=x.note,
            address=addresses.get((x.channel, x.value_bidx), ""),
        )
        for x in lifts
    ]
