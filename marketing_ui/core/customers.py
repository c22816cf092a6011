"""Customers: keyset-paged listing, add/edit/delete with encrypted contact data, consent, bulk actions.

Functions take a Session and flush; the caller commits (`with session_scope() as s: ...`), so a
handler can combine several calls, e.g. `set_consent` and an event row, in one transaction.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlmodel import Session

from marketing_ui.core import audit
from marketing_ui.core.clock import as_utc, utcnow
from marketing_ui.core.config import get_settings
from marketing_ui.core.crypto import (
    DecryptionError,
    FieldCipher,
    associated_data,
    blind_indexer,
    cipher,
    normalize_phone,
    sign,
)
from marketing_ui.core.models import (
    Campaign,
    Channel,
    ConsentEvent,
    Coupon,
    Customer,
    CustomerTag,
    Delivery,
    Event,
    OutboxMessage,
    Redemption,
    Tag,
    Visit,
    new_uid,
)
from marketing_ui.core.visits import Birthday, BirthdayError, parse_birthday

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_NAME = 120
CONSENT_SOURCES = (
    "import",
    "manual",
    "unsubscribe_link",
    "stop",
    "bounce",
    "complaint",
    "api",
    "preferences",
    "erase",
)

_customers = Customer.__table__
_links = CustomerTag.__table__
_PHONE_LIKE = re.compile(r"[+\d\s().\-/]+")


class CustomerError(ValueError):
    """A message fit to show next to the form field it names (never containing other people's data)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class DuplicateCustomerError(CustomerError):
    """The email or phone already belongs to another customer, named in the message."""

    def __init__(self, message: str, field: str, existing_id: int) -> None:
        super().__init__(message, field)
        self.existing_id = existing_id


@dataclass(frozen=True)
class TagRef:
    id: int
    name: str
    color: str


@dataclass(frozen=True)
class CustomerRow:
    """One line of the customers table or a segment sample, contact data decrypted for display."""

    id: int
    uid: str
    first_name: str
    last_name: str
    email: str
    phone: str
    email_consent: bool
    sms_consent: bool
    created_at: datetime
    tags: tuple[TagRef, ...] = ()
    visit_count: int = 0
    last_visit_at: datetime | None = None

    @property
    def display_name(self) -> str:
        return _display_name(self.first_name, self.last_name, self.id)


@dataclass(frozen=True)
class CustomerPage:
    """A page of rows and the opaque cursor of the next page (None on the last page)."""

    rows: list[CustomerRow]
    next_cursor: str | None


@dataclass(frozen=True)
class CustomerFilter:
    """What the listing and the bulk actions share: search text, tag and consent filters.

    `search` containing "@" is an exact email lookup, phone-like text an exact phone lookup
    (both through the blind index); anything else matches the start of first or last name.
    """

    search: str = ""
    tag_id: int | None = None
    email_consent: bool | None = None
    sms_consent: bool | None = None


@dataclass
class CustomerInput:
    """What the add/edit dialog submits."""

    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    email_consent: bool = False
    sms_consent: bool = False
    tag_ids: list[int] = field(default_factory=list)
    birthday_month: int | str | None = None  # empty month, day and year: no birthday
    birthday_day: int | str | None = None
    birthday_year: int | str | None = None


@dataclass(frozen=True)
class ConsentProof:
    """Where a consent change came from (a signup's `src`), an HMAC of the client's IP and user
    agent (never the values), and the version of the wording shown (ConsentEvent columns)."""

    origin: str = ""
    proof_hash: str | None = None
    wording_version: str = ""


def consent_proof_hash(client_ip: str, user_agent: str) -> str:
    """Proof of who acted online: a keyed HMAC of the client's IP and user agent, kept instead
    of the values themselves (ConsentProof.proof_hash)."""
    return sign(f"{client_ip[:64]}\x1f{user_agent[:512]}", "consent-proof")


@dataclass(frozen=True)
class ConsentEntry:
    """One consent change and its proof: how (source), where (origin), which wording, when."""

    channel: str
    granted: bool
    source: str
    note: str
    created_at: datetime
    origin: str = ""
    wording_version: str = ""
    proof_hash: str | None = None


@dataclass(frozen=True)
class DeliveryEntry:
    id: int
    campaign_id: int
    campaign_name: str
    channel: str
    status: str
    sent_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class RedemptionEntry:
    coupon_id: int
    campaign_id: int
    campaign_name: str
    action: str
    note: str
    created_at: datetime


@dataclass(frozen=True)
class CustomerDetail:
    id: int
    uid: str
    first_name: str
    last_name: str
    email: str
    phone: str
    email_consent: bool
    sms_consent: bool
    created_at: datetime
    updated_at: datetime
    last_activity_at: datetime | None
    tags: list[TagRef]
    consent_history: list[ConsentEntry]
    deliveries: list[DeliveryEntry]
    redemptions: list[RedemptionEntry]
    visit_count: int = 0
    last_visit_at: datetime | None = None
    birthday_month: int | None = None
    birthday_day: int | None = None
    birthday_year: int | None = None

    @property
    def display_name(self) -> str:
        return _display_name(self.first_name, self.last_name, self.id)


# Encryption of one customer's contact fields ------------------------------------------


def _display_name(first: str, last: str, customer_id: int | None) -> str:
    name = f"{first} {last}".strip()
    return name or f"customer #{customer_id}"


def masked_email(email: str) -> str:
    """ "n***@example.com": enough to tell two customers apart, not enough to write to them."""
    local, at, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if at and local else ""


def masked_phone(phone: str) -> str:
    """ "•••0199": the last four digits only."""
    digits = [ch for ch in phone if ch.isdigit()]
    return "•••" + "".join(digits[-4:]) if len(digits) >= 4 else ""


def short_label(first: str, last: str, email: str, phone: str, customer_id: int | None) -> str:
    """A customer in lists that must tell two Noahs apart while showing little PII:
    first name, last initial and the masked email (or phone): "Noah K. · n***@example.com"."""
    name = " ".join(
        part for part in (first.strip(), f"{last.strip()[:1]}." if last.strip() else "") if part
    )
    contact = masked_email(email) if email and email != "(unreadable)" else masked_phone(phone)
    if not name:
        name = f"customer #{customer_id}"
    return f"{name} · {contact}" if contact else name


def encrypt_contact(fc: FieldCipher, uid: str, column: str, value: str) -> str:
    return fc.encrypt(value, associated_data("customer", column, uid))


def decrypt_contact(fc: FieldCipher, uid: str, column: str, token: str | None) -> str:
    """Plaintext, or "" when absent; a broken cell shows as unreadable instead of failing a page."""
    if not token:
        return ""
    try:
        return fc.decrypt(token, associated_data("customer", column, uid))
    except DecryptionError:
        return "(unreadable)"


def check_email(value: str) -> str:
    """The normalized address, or CustomerError with email-validator's reason (no DNS lookups)."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise CustomerError(f"Email: {exc}", "email") from None


def looks_like_phone(text: str) -> bool:
    """Digits with phone punctuation (at least five digits): typed as a phone, not a name."""
    text = text.strip()
    return bool(_PHONE_LIKE.fullmatch(text)) and sum(ch.isdigit() for ch in text) >= 5


def check_phone(value: str) -> str:
    """E.164, using the configured default region for numbers written without +country."""
    try:
        return normalize_phone(value, get_settings().default_region)
    except ValueError as exc:
        raise CustomerError(f"Phone: {exc}", "phone") from None


# Listing ---------------------------------------------------------------------------------


def _name_prefix_clause(text: str) -> ColumnElement[bool]:
    words = text.lower().split()
    per_word = [
        or_(
            func.lower(Customer.first_name).startswith(word, autoescape=True),
            func.lower(Customer.last_name).startswith(word, autoescape=True),
        )
        for word in words
    ]
    return and_(*per_word)


def _search_clause(text: str) -> ColumnElement[bool]:
    text = text.strip()
    if not text:
        return true()
    if "@" in text:
        return Customer.email_bidx == blind_indexer().email(text)
    if looks_like_phone(text):
        try:
            e164 = normalize_phone(text, get_settings().default_region)
        except ValueError:
            return false()
        return Customer.phone_bidx == blind_indexer().phone(e164)
    return _name_prefix_clause(text)


def has_tag_clause(tag_ids: list[int]) -> ColumnElement[bool]:
    """A semi-join on customer_tag (IN subquery: both planners turn it into an index probe)."""
    return Customer.id.in_(select(CustomerTag.customer_id).where(CustomerTag.tag_id.in_(tag_ids)))


def filter_clause(filt: CustomerFilter) -> ColumnElement[bool]:
    """The WHERE clause of a filter, shared by the listing, counts and bulk actions.

    Erased customers (core/customer_rights.py) are rows kept for anonymous analytics: no
    listing, search, count or bulk action sees them.
    """
    parts: list[ColumnElement[bool]] = [_search_clause(filt.search), Customer.erased_at.is_(None)]
    if filt.tag_id is not None:
        # Correlated EXISTS here: a page walks the name index and stops after 50 hits, so
        # probing per row beats building the set of every customer with the tag first.
        parts.append(
            exists().where(
                CustomerTag.customer_id == Customer.id, CustomerTag.tag_id == filt.tag_id
            )
        )
    if filt.email_consent is not None:
        parts.append(Customer.email_consent == filt.email_consent)
    if filt.sms_consent is not None:
        parts.append(Customer.sms_consent == filt.sms_consent)
    return and_(*parts)


def encode_cursor(values: list) -> str:
    """The opaque page token: (last, first, id) for "name" order, (created_at iso, id) for "newest"."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def _decode_cursor(cursor: str, order: str) -> list:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if order == "newest":
            return [datetime.fromisoformat(values[0]), int(values[1])]
        return [str(values[0]), str(values[1]), int(values[2])]
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise ValueError("This page link is no longer valid; start from the first page.") from exc


_ROW_COLUMNS = (
    Customer.id,
    Customer.uid,
    Customer.first_name,
    Customer.last_name,
    Customer.email_enc,
    Customer.phone_enc,
    Customer.email_consent,
    Customer.sms_consent,
    Customer.created_at,
    Customer.visit_count,
    Customer.last_visit_at,
)


def rows_from_select(session: Session, query: Select) -> list[CustomerRow]:
    """Turn a select of `_ROW_COLUMNS` into display rows: decrypt and attach tags in one query."""
    raw = session.execute(query).all()
    if not raw:
        return []
    ids = [r[0] for r in raw]
    tags: dict[int, list[TagRef]] = {}
    tag_query = (
        select(CustomerTag.customer_id, Tag.id, Tag.name, Tag.color)
        .join(Tag, Tag.id == CustomerTag.tag_id)
        .where(CustomerTag.customer_id.in_(ids))
        .order_by(Tag.name)
    )
    for customer_id, tag_id, name, color in session.execute(tag_query):
        tags.setdefault(customer_id, []).append(TagRef(tag_id, name, color))
    fc = cipher()
    return [
        CustomerRow(
            id=r[0],
            uid=r[1],
            first_name=r[2],
            last_name=r[3],
            email=decrypt_contact(fc, r[1], "email", r[4]),
            phone=decrypt_contact(fc, r[1], "phone", r[5]),
            email_consent=r[6],
            sms_consent=r[7],
            created_at=as_utc(r[8]),  # type: ignore[arg-type]
            tags=tuple(tags.get(r[0], ())),
            visit_count=int(r[9] or 0),
            last_visit_at=as_utc(r[10]),
        )
        for r in raw
    ]


def row_select() -> Select:
    return select(*_ROW_COLUMNS)


def list_customers(
    session: Session,
    filt: CustomerFilter | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    order: str = "name",
) -> CustomerPage:
    """One page after `cursor`, by keyset (the cost of page 1,000 equals page 1; OFFSET's grows).

    order: "name" (last name, first name, id) or "newest" (created_at desc, id desc).
    """
    if order not in ("name", "newest"):
        raise ValueError("order must be 'name' or 'newest'")
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    query = row_select().where(filter_clause(filt or CustomerFilter()))
    if order == "name":
        key = (Customer.last_name, Customer.first_name, Customer.id)
        if cursor:
            query = query.where(tuple_(*key) > tuple_(*map(literal, _decode_cursor(cursor, order))))
        query = query.order_by(*key)
    else:
        if cursor:
            created, last_id = _decode_cursor(cursor, order)
            query = query.where(tuple_(Customer.created_at, Customer.id) < (created, last_id))
        query = query.order_by(Customer.created_at.desc(), Customer.id.desc())
    rows = rows_from_select(session, query.limit(limit + 1))
    if len(rows) <= limit:
        return CustomerPage(rows, None)
    rows = rows[:limit]
    last = rows[-1]
    if order == "name":
        next_cursor = encode_cursor([last.last_name, last.first_name, last.id])
    else:
        next_cursor = encode_cursor([last.created_at.isoformat(), last.id])
    return CustomerPage(rows, next_cursor)


def count_customers(session: Session, filt: CustomerFilter | None = None) -> int:
    query = (
        select(func.count()).select_from(_customers).where(filter_clause(filt or CustomerFilter()))
    )
    return int(session.execute(query).scalar_one())


# Add / edit / delete -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Clean:
    first_name: str
    last_name: str
    email: str
    phone: str
    email_consent: bool
    sms_consent: bool
    tag_ids: list[int]
    birthday: Birthday | None


def _clean(data: CustomerInput) -> _Clean:
    first = " ".join(data.first_name.split())
    last = " ".join(data.last_name.split())
    if len(first) > MAX_NAME or len(last) > MAX_NAME:
        raise CustomerError(f"Names can have at most {MAX_NAME} characters.", "first_name")
    email = check_email(data.email) if data.email.strip() else ""
    phone = check_phone(data.phone) if data.phone.strip() else ""
    if not email and not phone:
        raise CustomerError("Give an email address or a phone number.", "email")
    if data.email_consent and not email:
        raise CustomerError("Email consent needs an email address.", "email_consent")
    if data.sms_consent and not phone:
        raise CustomerError("SMS consent needs a phone number.", "sms_consent")
    try:
        birthday = parse_birthday(data.birthday_month, data.birthday_day, data.birthday_year)
    except BirthdayError as exc:
        raise CustomerError(str(exc), exc.field) from None
    return _Clean(
        first,
        last,
        email,
        phone,
        data.email_consent,
        data.sms_consent,
        sorted(set(data.tag_ids)),
        birthday,
    )


def store_birthday(customer: Customer, birthday: Birthday | None) -> bool:
    """Store the birthday's three columns; True when they changed."""
    values = (birthday.month, birthday.day, birthday.year) if birthday else (None, None, None)
    before = (customer.birthday_month, customer.birthday_day, customer.birthday_year)
    customer.birthday_month, customer.birthday_day, customer.birthday_year = values
    return before != values


def _refuse_duplicates(
    session: Session, email_bidx: str | None, phone_bidx: str | None, self_id: int | None
) -> None:
    for column, value, label in (
        (Customer.email_bidx, email_bidx, "email address"),
        (Customer.phone_bidx, phone_bidx, "phone number"),
    ):
        if not value:
            continue
        query = select(Customer.id, Customer.first_name, Customer.last_name).where(column == value)
        if self_id is not None:
            query = query.where(Customer.id != self_id)
        hit = session.execute(query).first()
        if hit:
            name = _display_name(hit[1], hit[2], hit[0])
            field_name = "email" if label.startswith("email") else "phone"
            raise DuplicateCustomerError(
                f"{name} (#{hit[0]}) already has this {label}.", field_name, hit[0]
            )


def _set_tags(session: Session, customer_id: int, tag_ids: list[int]) -> None:
    session.execute(delete(_links).where(_links.c.customer_id == customer_id))
    if tag_ids:
        existing = session.execute(select(Tag.id).where(Tag.id.in_(tag_ids))).scalars().all()
        if existing:
            session.execute(
                insert(_links), [{"customer_id": customer_id, "tag_id": t} for t in existing]
            )


def _record_consent(
    session: Session,
    customer_id: int,
    channel: str,
    granted: bool,
    source: str,
    note: str,
    proof: ConsentProof | None = None,
) -> None:
    proof = proof or ConsentProof()
    session.add(
        ConsentEvent(
            customer_id=customer_id,
            channel=channel,
            granted=granted,
            source=source,
            note=note,
            origin=proof.origin,
            proof_hash=proof.proof_hash,
            wording_version=proof.wording_version,
        )
    )


def create_customer(
    session: Session, data: CustomerInput, source: str = "manual", note: str = ""
) -> Customer:
    """Validated, de-duplicated by blind index, encrypted; granted consent is recorded with its source."""
    clean = _clean(data)
    bidx = blind_indexer()
    email_bidx = bidx.email(clean.email) if clean.email else None
    phone_bidx = bidx.phone(clean.phone) if clean.phone else None
    _refuse_duplicates(session, email_bidx, phone_bidx, None)
    fc = cipher()
    uid = new_uid()
    customer = Customer(
        uid=uid,
        first_name=clean.first_name,
        last_name=clean.last_name,
        email_enc=encrypt_contact(fc, uid, "email", clean.email) if clean.email else None,
        phone_enc=encrypt_contact(fc, uid, "phone", clean.phone) if clean.phone else None,
        email_bidx=email_bidx,
        phone_bidx=phone_bidx,
        email_consent=clean.email_consent,
        sms_consent=clean.sms_consent,
    )
    store_birthday(customer, clean.birthday)
    session.add(customer)
    session.flush()
    assert customer.id is not None
    _set_tags(session, customer.id, clean.tag_ids)
    for channel, granted in (
        (Channel.EMAIL, clean.email_consent),
        (Channel.SMS, clean.sms_consent),
    ):
        if granted:
            _record_consent(session, customer.id, channel.value, True, source, note)
    audit.record(session, "customer.create", "customer", customer.id, f"source: {source}")
    session.flush()
    return customer


def _get(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise LookupError(f"Customer #{customer_id} does not exist.")
    return customer


def update_customer(
    session: Session, customer_id: int, data: CustomerInput, source: str = "manual", note: str = ""
) -> Customer:
    """Replaces every field with the dialog's values; consent changes land in the history."""
    customer = _get(session, customer_id)
    clean = _clean(data)
    bidx = blind_indexer()
    email_bidx = bidx.email(clean.email) if clean.email else None
    phone_bidx = bidx.phone(clean.phone) if clean.phone else None
    _refuse_duplicates(session, email_bidx, phone_bidx, customer_id)
    fc = cipher()
    changed = [
        name
        for name, differs in (
            (
                "name",
                (customer.first_name, customer.last_name) != (clean.first_name, clean.last_name),
            ),
            ("email", email_bidx != customer.email_bidx),
            ("phone", phone_bidx != customer.phone_bidx),
            ("email consent", customer.email_consent != clean.email_consent),
            ("SMS consent", customer.sms_consent != clean.sms_consent),
        )
        if differs
    ]
    if store_birthday(customer, clean.birthday):
        changed.append("birthday")
    customer.first_name = clean.first_name
    customer.last_name = clean.last_name
    if email_bidx != customer.email_bidx:
        customer.email_enc = (
            encrypt_contact(fc, customer.uid, "email", clean.email) if clean.email else None
        )
        customer.email_bidx = email_bidx
    if phone_bidx != customer.phone_bidx:
        customer.phone_enc = (
            encrypt_contact(fc, customer.uid, "phone", clean.phone) if clean.phone else None
        )
        customer.phone_bidx = phone_bidx
    for channel, granted in (
        (Channel.EMAIL, clean.email_consent),
        (Channel.SMS, clean.sms_consent),
    ):
        attr = f"{channel.value}_consent"
        if getattr(customer, attr) != granted:
            setattr(customer, attr, granted)
            _record_consent(session, customer_id, channel.value, granted, source, note)
    customer.updated_at = utcnow()
    _set_tags(session, customer_id, clean.tag_ids)
    summary = (
        "changed: " + ", ".join(changed) if changed else "saved without changes to contact data"
    )
    audit.record(session, "customer.update", "customer", customer_id, summary)
    session.flush()
    return customer


def set_consent(
    session: Session,
    customer_id: int,
    channel: str,
    granted: bool,
    source: str,
    note: str = "",
    proof: ConsentProof | None = None,
) -> bool:
    """Change one consent flag and record why; returns False (and records nothing) if unchanged.

    Used by the unsubscribe link, STOP replies, bounces and complaints as well as the UI;
    a signup's confirmation passes its `proof` (where, who, which wording).
    """
    if channel not in (Channel.EMAIL.value, Channel.SMS.value):
        raise ValueError("channel must be 'email' or 'sms'")
    if not source or len(source) > 32:
        raise ValueError("source must be a short name such as 'manual' or 'stop'")
    column = Customer.email_consent if channel == "email" else Customer.sms_consent
    result = session.execute(
        update(_customers)
        .where(_customers.c.id == customer_id, column != granted)
        .values({column.key: granted, "updated_at": utcnow()})
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        if session.get(Customer, customer_id) is None:
            raise LookupError(f"Customer #{customer_id} does not exist.")
        return False
    _record_consent(session, customer_id, channel, granted, source, note[:255], proof)
    session.flush()
    cached = session.identity_map.get(session.identity_key(Customer, customer_id))
    if cached is not None:
        session.expire(cached, [column.key, "updated_at"])
    return True


def delete_customer(session: Session, customer_id: int) -> None:
    if delete_customers(session, [customer_id]) == 0:
        raise LookupError(f"Customer #{customer_id} does not exist.")


# Detail ------------------------------------------------------------------------------------


def customer_detail(session: Session, customer_id: int) -> CustomerDetail:
    """Everything the detail drawer shows, in five indexed queries."""
    c = _get(session, customer_id)
    fc = cipher()
    tags = [
        TagRef(*row)
        for row in session.execute(
            select(Tag.id, Tag.name, Tag.color)
            .join(CustomerTag, CustomerTag.tag_id == Tag.id)
            .where(CustomerTag.customer_id == customer_id)
            .order_by(Tag.name)
        )
    ]
    history = [
        ConsentEntry(ch, granted, source, note, as_utc(at), origin, wording, proof)  # type: ignore[arg-type]
        for ch, granted, source, note, at, origin, wording, proof in session.execute(
            select(
                ConsentEvent.channel,
                ConsentEvent.granted,
                ConsentEvent.source,
                ConsentEvent.note,
                ConsentEvent.created_at,
                ConsentEvent.origin,
                ConsentEvent.wording_version,
                ConsentEvent.proof_hash,
            )
            .where(ConsentEvent.customer_id == customer_id)
            .order_by(ConsentEvent.created_at.desc(), ConsentEvent.id.desc())
        )
    ]
    deliveries = [
        DeliveryEntry(d_id, camp_id, name, ch, status, as_utc(sent), as_utc(created))  # type: ignore[arg-type]
        for d_id, camp_id, name, ch, status, sent, created in session.execute(
            select(
                Delivery.id,
                Delivery.campaign_id,
                Campaign.name,
                Delivery.channel,
                Delivery.status,
                Delivery.sent_at,
                Delivery.created_at,
            )
            .join(Campaign, Campaign.id == Delivery.campaign_id)
            .where(Delivery.customer_id == customer_id)
            .order_by(Delivery.created_at.desc(), Delivery.id.desc())
        )
    ]
    redemptions = [
        RedemptionEntry(coupon_id, camp_id, name, action, note, as_utc(at))  # type: ignore[arg-type]
        for coupon_id, camp_id, name, action, note, at in session.execute(
            select(
                Redemption.coupon_id,
                Coupon.campaign_id,
                Campaign.name,
                Redemption.action,
                Redemption.note,
                Redemption.created_at,
            )
            .join(Coupon, Coupon.id == Redemption.coupon_id)
            .join(Campaign, Campaign.id == Coupon.campaign_id)
            .where(Coupon.customer_id == customer_id)
            .order_by(Redemption.created_at.desc(), Redemption.id.desc())
        )
    ]
    return CustomerDetail(
        id=c.id,  # type: ignore[arg-type]
        uid=c.uid,
        first_name=c.first_name,
        last_name=c.last_name,
        email=decrypt_contact(fc, c.uid, "email", c.email_enc),
        phone=decrypt_contact(fc, c.uid, "phone", c.phone_enc),
        email_consent=c.email_consent,
        sms_consent=c.sms_consent,
        created_at=as_utc(c.created_at),  # type: ignore[arg-type]
        updated_at=as_utc(c.updated_at),  # type: ignore[arg-type]
        last_activity_at=as_utc(c.last_activity_at),
        tags=tags,
        consent_history=history,
        deliveries=deliveries,
        redemptions=redemptions,
        visit_count=int(c.visit_count or 0),
        last_visit_at=as_utc(c.last_visit_at),
        birthday_month=c.birthday_month,
        birthday_day=c.birthday_day,
        birthday_year=c.birthday_year,
    )


# Bulk actions ------------------------------------------------------------------------------

BulkTarget = list[int] | CustomerFilter


def _target_text(target: BulkTarget, count: int) -> str:
    """What a bulk action touched, for the audit log: a count, never the filter's search text."""
    noun = "customer" if count == 1 else "customers"
    how = "matching a filter" if isinstance(target, CustomerFilter) else "selected"
    return f"{count} {noun} {how}"


def target_clause(target: BulkTarget) -> ColumnElement[bool]:
    """A selection of ids, or everything a listing filter matches (never loaded into Python)."""
    if isinstance(target, CustomerFilter):
        return filter_clause(target)
    ids = [int(i) for i in target]
    return Customer.id.in_(ids) if ids else false()


def bulk_add_tag(session: Session, target: BulkTarget, tag_id: int) -> int:
    """INSERT ... SELECT of the missing links; returns how many customers gained the tag."""
    if session.get(Tag, tag_id) is None:
        raise LookupError(f"Tag #{tag_id} does not exist.")
    already = exists().where(CustomerTag.customer_id == Customer.id, CustomerTag.tag_id == tag_id)
    source = select(Customer.id, literal(tag_id)).where(target_clause(target), ~already)
    stmt = insert(_links).from_select(["customer_id", "tag_id"], source)
    result = session.execute(stmt.execution_options(preserve_rowcount=True))
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    audit.record(session, "customer.tag", "tag", tag_id, f"added to {_target_text(target, count)}")
    session.flush()
    return count


def bulk_remove_tag(session: Session, target: BulkTarget, tag_id: int) -> int:
    """Returns how many customers lost the tag."""
    ids = select(Customer.id).where(target_clause(target))
    result = session.execute(
        delete(_links).where(_links.c.tag_id == tag_id, _links.c.customer_id.in_(ids))
    )
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    audit.record(
        session, "customer.untag", "tag", tag_id, f"removed from {_target_text(target, count)}"
    )
    session.flush()
    return count


def delete_customers(session: Session, target: BulkTarget) -> int:
    """Erase customers with their deliveries, coupons and events (right to erasure); returns count.

    Dependents go first, then the customer rows, whose tag links and consent history the
    database removes by ON DELETE CASCADE. The filter only reads customer and customer_tag,
    so it still selects the same rows when the customer delete runs.
    """
    ids_sel = select(Customer.id).where(target_clause(target))
    delivery_ids = select(Delivery.id).where(Delivery.customer_id.in_(ids_sel))
    coupon_ids = select(Coupon.id).where(Coupon.customer_id.in_(ids_sel))
    session.execute(delete(Visit.__table__).where(Visit.customer_id.in_(ids_sel)))
    session.execute(delete(Redemption.__table__).where(Redemption.coupon_id.in_(coupon_ids)))
    session.execute(delete(Coupon.__table__).where(Coupon.customer_id.in_(ids_sel)))
    session.execute(
        delete(Event.__table__).where(
            or_(Event.customer_id.in_(ids_sel), Event.delivery_id.in_(delivery_ids))
        )
    )
    session.execute(
        delete(OutboxMessage.__table__).where(OutboxMessage.delivery_id.in_(delivery_ids))
    )
    session.execute(delete(Delivery.__table__).where(Delivery.customer_id.in_(ids_sel)))
    result = session.execute(delete(_customers).where(target_clause(target)))
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if isinstance(target, list) and len(target) == 1 and count == 1:
        audit.record(session, "customer.delete", "customer", target[0], "erased with its history")
    elif count:
        audit.record(session, "customer.delete", "customer", None, _target_text(target, count))
    session.flush()
    session.expire_all()
    return count
