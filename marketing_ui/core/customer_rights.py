"""The customer's own rights: their preferences, a copy of their data, and erasure.

The preference page (api/preferences.py, behind the signed unsubscribe link) and the admin
customer page both come here, so "download my data" is one JSON document whoever asks, and
erasing is one function.

Erasing keeps the row: deliveries, events, coupons and visits stay so that every campaign's
numbers stay whole, but nothing left can name or reach the person. Contact data, names, birthday
and time zone go; tags go; consent is withdrawn (recorded with source "erase"); the copies of a
message or a provider's words that could hold an address (the outbox's stored messages, delivery
errors, provider event details, free-text notes) are cleared; the row gets a new `uid`, so the old
unsubscribe links and the personal check-in QR no longer find it. Suppressions stay: they hold
only the blind index, so a STOP or a complaint is still honoured if the address comes back.

Functions take a Session and flush; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlmodel import Session

from marketing_ui.core import audit
from marketing_ui.core.clock import as_utc, utcnow
from marketing_ui.core.crypto import cipher
from marketing_ui.core.customers import (
    ConsentProof,
    decrypt_contact,
    masked_email,
    masked_phone,
    set_consent,
    store_birthday,
)
from marketing_ui.core.events import skip_pending, unsubscribe
from marketing_ui.core.models import (
    Campaign,
    Channel,
    ConsentEvent,
    Coupon,
    Customer,
    CustomerTag,
    Delivery,
    Event,
    EventType,
    OutboxMessage,
    Redemption,
    SkipReason,
    Suppression,
    Tag,
    Visit,
    new_uid,
)
from marketing_ui.core.visits import BirthdayError, parse_birthday

PREFERENCES = "preferences"  # ConsentEvent.source of a change on the preference page
ERASE = "erase"  # ConsentEvent.source of the consent withdrawn by an erasure
EXPORT_FORMAT = "customer-data/1"

# Provider words kept on these events may quote the address; an erasure clears them. Clicks
# (the link's URL) and redemptions (the coupon reference) hold no contact data and feed reports.
_PROVIDER_WORDS = (
    EventType.BOUNCED.value,
    EventType.FAILED.value,
    EventType.COMPLAINED.value,
    EventType.DELAYED.value,
    EventType.DELIVERED.value,
    EventType.SENT.value,
)


class PreferenceError(ValueError):
    """A message for the preference page, naming the field it is about."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


# The preference page ------------------------------------------------------------------------


@dataclass(frozen=True)
class Preferences:
    """What the preference page shows: masked contact data only (the link may be forwarded)."""

    customer_id: int
    first_name: str
    email_masked: str
    phone_masked: str
    has_email: bool
    has_phone: bool
    email_consent: bool
    sms_consent: bool
    birthday_month: int | None
    birthday_day: int | None
    birthday_year: int | None


def customer_id_by_uid(session: Session, customer_uid: str) -> int | None:
    """The live (not erased) customer a signed link names, or None."""
    if not customer_uid or len(customer_uid) > 32:
        return None
    return session.execute(
        select(Customer.id).where(Customer.uid == customer_uid, Customer.erased_at.is_(None))
    ).scalar_one_or_none()


def preferences(session: Session, customer_uid: str) -> Preferences | None:
    customer_id = customer_id_by_uid(session, customer_uid)
    if customer_id is None:
        return None
    c = session.get(Customer, customer_id)
    assert c is not None
    fc = cipher()
    email = decrypt_contact(fc, c.uid, "email", c.email_enc)
    phone = decrypt_contact(fc, c.uid, "phone", c.phone_enc)
    return Preferences(
        customer_id=customer_id,
        first_name=c.first_name,
        email_masked=masked_email(email),
        phone_masked=masked_phone(phone),
        has_email=c.email_bidx is not None,
        has_phone=c.phone_bidx is not None,
        email_consent=c.email_consent,
        sms_consent=c.sms_consent,
        birthday_month=c.birthday_month,
        birthday_day=c.birthday_day,
        birthday_year=c.birthday_year,
    )


def _suppressed(session: Session, channel: str, bidx: str) -> bool:
    return (
        session.execute(
            select(Suppression.id).where(
                Suppression.channel == channel, Suppression.value_bidx == bidx
            )
        ).first()
        is not None
    )


def turn_on(session: Session, customer_id: int, channel: str, proof_hash: str) -> bool:
    """Consent given on the preference page, only for an address already on file.

    Refused (PreferenceError) without an address, or when the address is suppressed: a STOP is
    lifted only by the customer's START, a bounce or complaint only by the owner.
    """
    c = session.get(Customer, customer_id)
    if c is None or c.erased_at is not None:
        raise LookupError("This customer does not exist.")
    if channel == Channel.EMAIL.value:
        bidx, field, what = c.email_bidx, "email", "email address"
    elif channel == Channel.SMS.value:
        bidx, field, what = c.phone_bidx, "sms", "phone number"
    else:
        raise PreferenceError("Choose email or text messages.", "channel")
    if bidx is None:
        raise PreferenceError(
            f"We have no {what} for you, so we cannot switch this on here.", field
        )
    if _suppressed(session, channel, bidx):
        if channel == Channel.SMS.value:
            message = "This number replied STOP. To get our texts again, text START to us."
        else:
            message = (
                "Our emails to this address bounced or were reported, so we cannot send to it."
            )
        raise PreferenceError(message, field)
    return set_consent(
        session, customer_id, channel, True, PREFERENCES, "", ConsentProof(proof_hash=proof_hash)
    )


def turn_off(
    session: Session,
    customer_uid: str,
    channel: str,
    proof_hash: str,
    campaign_id: int | None = None,
) -> bool:
    """Consent withdrawn on the preference page; queued messages on the channel are skipped."""
    customer_id = customer_id_by_uid(session, customer_uid)
    if customer_id is None:
        raise LookupError("This customer does not exist.")
    if channel == Channel.EMAIL.value:
        outcome = unsubscribe(
            session, customer_uid, campaign_id, source=PREFERENCES, proof_hash=proof_hash
        )
        return bool(outcome and outcome.changed)
    if channel != Channel.SMS.value:
        raise PreferenceError("Choose email or text messages.", "channel")
    changed = set_consent(
        session, customer_id, channel, False, PREFERENCES, "", ConsentProof(proof_hash=proof_hash)
    )
    skip_pending(session, customer_id, channel, "unsubscribed", SkipReason.CONSENT)
    session.flush()
    return changed


def set_birthday(
    session: Session,
    customer_id: int,
    month: str | int | None,
    day: str | int | None,
    year: str | int | None,
) -> bool:
    """Set (or, all empty, clear) the birthday; PreferenceError names the bad field."""
    try:
        birthday = parse_birthday(month, day, year)
    except BirthdayError as exc:
        raise PreferenceError(str(exc), exc.field) from None
    c = session.get(Customer, customer_id)
    if c is None or c.erased_at is not None:
        raise LookupError("This customer does not exist.")
    changed = store_birthday(c, birthday)
    if changed:
        c.updated_at = utcnow()
    session.flush()
    return changed


# Download my data ---------------------------------------------------------------------------


def _iso(at: datetime | None) -> str | None:
    value = as_utc(at)
    return value.isoformat() if value else None


def export_data(session: Session, customer_id: int) -> dict[str, Any]:
    """Everything stored about one customer, contact data decrypted (LookupError if unknown)."""
    c = session.get(Customer, customer_id)
    if c is None:
        raise LookupError(f"Customer #{customer_id} does not exist.")
    fc = cipher()
    profile = {
        "first_name": c.first_name,
        "last_name": c.last_name,
        "email": decrypt_contact(fc, c.uid, "email", c.email_enc) or None,
        "phone": decrypt_contact(fc, c.uid, "phone", c.phone_enc) or None,
        "email_consent": c.email_consent,
        "sms_consent": c.sms_consent,
        "birthday": (
            {"month": c.birthday_month, "day": c.birthday_day, "year": c.birthday_year}
            if c.birthday_month
            else None
        ),
        "timezone": c.timezone,
        "added_at": _iso(c.created_at),
        "updated_at": _iso(c.updated_at),
        "last_activity_at": _iso(c.last_activity_at),
        "visit_count": int(c.visit_count or 0),
        "last_visit_at": _iso(c.last_visit_at),
        "erased_at": _iso(c.erased_at),
    }
    tags = list(
        session.execute(
            select(Tag.name)
            .join(CustomerTag, CustomerTag.tag_id == Tag.id)
            .where(CustomerTag.customer_id == customer_id)
            .order_by(Tag.name)
        ).scalars()
    )
    consent = [
        {
            "channel": e.channel,
            "granted": e.granted,
            "source": e.source,
            "origin": e.origin,
            "wording_version": e.wording_version,
            "proof_hash": e.proof_hash,
            "note": e.note,
            "created_at": _iso(e.created_at),
        }
        for e in session.execute(
            select(ConsentEvent)
            .where(ConsentEvent.customer_id == customer_id)
            .order_by(ConsentEvent.created_at, ConsentEvent.id)
        ).scalars()
    ]
    visits = [
        {"at": _iso(at), "source": source}
        for at, source in session.execute(
            select(Visit.at, Visit.source)
            .where(Visit.customer_id == customer_id)
            .order_by(Visit.at, Visit.id)
        )
    ]
    coupons = [
        {
            "campaign": name,
            "status": status,
            "issued_at": _iso(created),
            "expires_at": _iso(expires),
            "redeemed_at": _iso(redeemed),
        }
        for name, status, created, expires, redeemed in session.execute(
            select(
                Campaign.name,
                Coupon.status,
                Coupon.created_at,
                Coupon.expires_at,
                Coupon.redeemed_at,
            )
            .join(Campaign, Campaign.id == Coupon.campaign_id)
            .where(Coupon.customer_id == customer_id)
            .order_by(Coupon.created_at, Coupon.id)
        )
    ]
    events: dict[int, list[dict[str, str | None]]] = {}
    for delivery_id, kind, at in session.execute(
        select(Event.delivery_id, Event.type, Event.created_at)
        .join(Delivery, Delivery.id == Event.delivery_id)
        .where(Delivery.customer_id == customer_id)
        .order_by(Event.created_at, Event.id)
    ):
        events.setdefault(int(delivery_id), []).append({"type": kind, "at": _iso(at)})
    messages = [
        {
            "campaign": name,
            "channel": channel,
            "status": status,
            "created_at": _iso(created),
            "sent_at": _iso(sent),
            "events": events.get(int(delivery_id), []),
        }
        for delivery_id, name, channel, status, created, sent in session.execute(
            select(
                Delivery.id,
                Campaign.name,
                Delivery.channel,
                Delivery.status,
                Delivery.created_at,
                Delivery.sent_at,
            )
            .join(Campaign, Campaign.id == Delivery.campaign_id)
            .where(Delivery.customer_id == customer_id)
            .order_by(Delivery.created_at, Delivery.id)
        )
    ]
    return {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(utcnow()),
        "profile": profile,
        "tags": tags,
        "consent_history": consent,
        "visits": visits,
        "coupons": coupons,
        "messages": messages,
    }


def export_for_admin(session: Session, customer_id: int) -> dict[str, Any]:
    """The same document, recorded in the audit log (the caller commits)."""
    data = export_data(session, customer_id)
    audit.record(session, "customer.data_export", "customer", customer_id, "personal data as JSON")
    session.flush()
    return data


# Erase ---------------------------------------------------------------------------------------


def erase(
    session: Session, customer_id: int, *, requested_by: str, proof_hash: str | None = None
) -> bool:
    """Erase one customer's personal data, keeping anonymous analytics; False if already erased.

    `requested_by` says who asked ("customer" from the preference page, "admin"), for the
    consent history and the audit log; `proof_hash` proves the customer's own request.
    Idempotent: a second call changes nothing.
    """
    c = session.get(Customer, customer_id)
    if c is None:
        raise LookupError(f"Customer #{customer_id} does not exist.")
    if c.erased_at is not None:
        return False
    now = utcnow()
    deliveries = select(Delivery.id).where(Delivery.customer_id == customer_id)
    coupons = select(Coupon.id).where(Coupon.customer_id == customer_id)

    # Free-text that may quote an address or a name: the consent notes, delivery errors,
    # provider words on events, counter notes on redemptions, the outbox's stored messages.
    session.execute(
        update(ConsentEvent).where(ConsentEvent.customer_id == customer_id).values(note="")
    )
    session.execute(
        update(Delivery)
        .where(Delivery.customer_id == customer_id, Delivery.error != "")
        .values(error="")
    )
    session.execute(
        update(Event)
        .where(Event.delivery_id.in_(deliveries), Event.type.in_(_PROVIDER_WORDS))
        .values(detail="")
    )
    session.execute(update(Redemption).where(Redemption.coupon_id.in_(coupons)).values(note=""))
    session.execute(delete(OutboxMessage).where(OutboxMessage.delivery_id.in_(deliveries)))

    for channel in (Channel.EMAIL.value, Channel.SMS.value):
        note = f"erased at {requested_by}'s request"
        set_consent(
            session, customer_id, channel, False, ERASE, note, ConsentProof(proof_hash=proof_hash)
        )
        skip_pending(session, customer_id, channel, "erased", SkipReason.CONSENT)
    session.execute(delete(CustomerTag).where(CustomerTag.customer_id == customer_id))

    session.refresh(c)
    c.first_name = ""
    c.last_name = ""
    c.email_enc = c.phone_enc = c.email_bidx = c.phone_bidx = None
    c.phone_region = None
    c.timezone = None
    store_birthday(c, None)
    c.uid = new_uid()  # old links and the personal QR name a row that no longer answers
    c.erased_at = now
    c.updated_at = now
    audit.record(
        session, "customer.erase", "customer", customer_id, f"erased at {requested_by}'s request"
    )
    session.flush()
    return True
