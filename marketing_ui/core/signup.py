"""The signup context (issue 15): a public form or a texted keyword asks; a link or a YES confirms.

Nothing is subscribed until confirmed. A signup writes one `SignupRequest` per channel, an
upsert on (channel, address blind index), so any number of concurrent signups of one address
are one row, and sends a confirmation: a signed link that expires, by transactional email, or a
text asking for YES. Confirming claims the row once (a conditional UPDATE), finds the customer
by blind index or creates them (INSERT … ON CONFLICT DO NOTHING on the unique blind index) and
grants the consent with its proof: ConsentEvent(source "confirm_link" or "sms_yes", origin =
the form's `src`, proof hash, wording version). The welcome automation then picks that consent
up like any other that did not come from an import.

No enumeration: a signup does the same work and gets the same answer whether or not the
address belongs to a customer, is subscribed or was asked before; only the confirmation,
which reaches the address's owner, says more.
"""

from __future__ import annotations

import logging
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from html import escape

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from marketing_ui.core import audit, jobs
from marketing_ui.core.app_settings import (
    BusinessIdentity,
    FrequencyCap,
    business_identity,
    frequency_cap,
    sending_limits,
    signup_settings,
)
from marketing_ui.core.clock import as_utc, utcnow
from marketing_ui.core.config import get_settings
from marketing_ui.core.crypto import associated_data, blind_indexer, cipher, sign, verify
from marketing_ui.core.customers import (
    MAX_NAME,
    ConsentProof,
    CustomerError,
    check_email,
    check_phone,
    consent_proof_hash,
    encrypt_contact,
    set_consent,
)
from marketing_ui.core.db import insert_ignore, take_turns, upsert
from marketing_ui.core.models import (
    Channel,
    ConsentEvent,
    Customer,
    SignupRequest,
    Suppression,
    SuppressionReason,
    new_uid,
)
from marketing_ui.core.visits import Birthday, BirthdayError, parse_birthday

log = logging.getLogger(__name__)

CONFIRM_PATH = "/join/confirm"
JOIN_PATH = "/join"
DEFAULT_ORIGIN = "direct"
TEXT_TO_JOIN_ORIGIN = "text-to-join"
SOURCE_CONFIRM_LINK = "confirm_link"
SOURCE_SMS_YES = "sms_yes"
CONFIRMED_SOURCES = (SOURCE_CONFIRM_LINK, SOURCE_SMS_YES)
MAX_EMAIL = 254  # RFC 5321's longest path
MAX_PHONE = 32
MAX_ORIGIN = 64
_ORIGIN_JUNK = re.compile(r"[^a-z0-9._-]+")
_TOKEN_PURPOSE = "signup-confirm"
_PROOF_PURPOSE = "consent-proof"

_requests = SignupRequest.__table__
_customers = Customer.__table__


# The consent wording: one place, one version per channel ------------------------------------


@dataclass(frozen=True)
class Wording:
    """The exact consent text shown for one channel; `version` is stored with every consent.

    Change the text only together with a new version ("email-v2"), so a ConsentEvent always
    names the words its customer saw. For SMS the version covers the checkbox text and the
    confirmation text together.
    """

    version: str
    checkbox: str


WORDING: dict[str, Wording] = {
    Channel.EMAIL.value: Wording(
        "email-v1",
        "Email me news and offers from {business}. I can unsubscribe at any time with the link "
        "in every email.",
    ),
    Channel.SMS.value: Wording(
        "sms-v1",
        "Text me offers from {business} at the number above ({frequency}). Msg & data rates may "
        "apply. Reply HELP for help, STOP to cancel. Consent is not a condition of purchase.",
    ),
}
SMS_CONFIRMATION = (
    "{business}: reply YES to get our offers by text ({frequency}). Msg & data rates may apply. "
    "Reply YES to confirm, HELP for help, STOP to cancel."
)
SMS_CONFIRMED = (
    "{business}: you are subscribed to our texts ({frequency}). Msg & data rates may apply. "
    "Reply HELP for help, STOP to cancel."
)
SMS_EXPIRED = "{business}: that signup has expired. Text {keyword} to sign up again."


def sms_frequency(cap: FrequencyCap) -> str:
    """How often texts come, as the consent wording says it (the frequency cap's SMS limit)."""
    if not cap.sms_max:
        return "recurring msgs"
    days = "day" if cap.window_days == 1 else f"{cap.window_days} days"
    return f"up to {cap.sms_max} msgs every {days}"


def consent_text(session: Session, channel: str) -> str:
    """The checkbox text for one channel, as the page shows it."""
    business = business_identity(session).business_name
    return WORDING[channel].checkbox.format(
        business=business, frequency=sms_frequency(frequency_cap(session))
    )


def sms_confirmation_text(session: Session) -> str:
    return SMS_CONFIRMATION.format(
        business=business_identity(session).business_name,
        frequency=sms_frequency(frequency_cap(session)),
    )


# Checking a signup --------------------------------------------------------------------------


@dataclass
class SignupForm:
    """What the form posts, as text (checkboxes as booleans); `website` is the honeypot."""

    first_name: str = ""
    email: str = ""
    phone: str = ""
    email_opt_in: bool = False
    sms_opt_in: bool = False
    birthday_month: str = ""
    birthday_day: str = ""
    birthday_year: str = ""
    origin: str = ""
    website: str = ""


@dataclass(frozen=True)
class Signup:
    """A checked signup: the addresses of the ticked channels only, normalized."""

    first_name: str
    email: str  # "" unless email was ticked
    phone: str  # E.164, "" unless texts were ticked
    birthday: Birthday | None
    origin: str

    @property
    def channels(self) -> list[str]:
        return [
            c for c, v in ((Channel.EMAIL.value, self.email), (Channel.SMS.value, self.phone)) if v
        ]


def clean_origin(src: str | None) -> str:
    """The `src` of /join as stored: lowercase letters, digits, '.', '_' and '-' (64 at most)."""
    text = unicodedata.normalize("NFKC", src or "").strip().lower()
    text = _ORIGIN_JUNK.sub("-", text).strip("-._")[:MAX_ORIGIN].strip("-._")
    return text or DEFAULT_ORIGIN


def _printable(text: str) -> bool:
    return all(unicodedata.category(ch)[0] != "C" for ch in text)


def validate_signup(form: SignupForm) -> Signup:
    """The checked signup, or CustomerError whose message and `field` name the wrong field."""
    first = " ".join(form.first_name.split())
    if not first:
        raise CustomerError("First name: tell us what to call you.", "first_name")
    if len(first) > MAX_NAME or not _printable(first):
        raise CustomerError(
            f"First name: at most {MAX_NAME} letters, without control characters.", "first_name"
        )
    if not (form.email_opt_in or form.sms_opt_in):
        raise CustomerError(
            "Channels: tick email, texts or both, so we know how to reach you.", "email_opt_in"
        )
    email = phone = ""
    if form.email_opt_in:
        if not form.email.strip():
            raise CustomerError("Email: give your email address, or untick email.", "email")
        if len(form.email) > MAX_EMAIL:
            raise CustomerError(f"Email: at most {MAX_EMAIL} characters.", "email")
        email = check_email(form.email)
    if form.sms_opt_in:
        if not form.phone.strip():
            raise CustomerError("Phone: give your mobile number, or untick texts.", "phone")
        if len(form.phone) > MAX_PHONE:
            raise CustomerError(f"Phone: at most {MAX_PHONE} characters.", "phone")
        phone = check_phone(form.phone)
    parts = (form.birthday_month, form.birthday_day, form.birthday_year)
    for name, value in zip(("birthday_month", "birthday_day", "birthday_year"), parts, strict=True):
        if len(value.strip()) > 4:
            raise CustomerError(f"Birthday {name.split('_')[1]}: give a number.", name)
    try:
        birthday = parse_birthday(*parts)
    except BirthdayError as exc:
        raise CustomerError(str(exc), exc.field) from None
    return Signup(first, email, phone, birthday, clean_origin(form.origin))


# Proof and tokens ---------------------------------------------------------------------------


def confirm_token(request_uid: str, expires_at: datetime) -> str:
    body = f"{request_uid}.{int(expires_at.timestamp())}"
    return f"{body}.{sign(body, _TOKEN_PURPOSE)}"


def parse_confirm_token(token: str) -> tuple[str, datetime] | None:
    """(request uid, expiry) when the token is genuine (expired or not), else None."""
    if len(token) > 120 or not token.isascii():
        return None
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > 12 or len(parts[0]) != 32:
        return None
    body = f"{parts[0]}.{parts[1]}"
    if not verify(body, parts[2], _TOKEN_PURPOSE):
        return None
    return parts[0], datetime.fromtimestamp(int(parts[1]), UTC)


def confirm_url(token: str) -> str:
    return f"{get_settings().api_base_url}{CONFIRM_PATH}/{token}"


def _aad(uid: str) -> bytes:
    return associated_data("signup_request", "value", uid)


def _field(channel: str) -> str:
    """The customer's column prefix for a channel: "email" or "phone"."""
    return "email" if channel == Channel.EMAIL.value else "phone"


def _bidx(channel: str, address: str) -> str:
    indexer = blind_indexer()
    return indexer.email(address) if channel == Channel.EMAIL.value else indexer.phone(address)


# Asking -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Confirmation:
    """One confirmation to send once the request rows are committed."""

    channel: str
    address: str
    address_bidx: str
    token: str
    request_uid: str = ""


def _request(
    session: Session,
    channel: str,
    address: str,
    *,
    partner_bidx: str | None,
    first_name: str,
    birthday: Birthday | None,
    origin: str,
    proof: str | None,
    now: datetime,
    hours: int,
) -> Confirmation:
    """Upsert the request row of one (channel, address): one statement, one row whatever races."""
    bidx = _bidx(channel, address)
    uid = new_uid()
    expires = now + timedelta(hours=hours)
    values = {
        "uid": uid,
        "channel": channel,
        "value_bidx": bidx,
        "value_enc": cipher().encrypt(address, _aad(uid)),
        "partner_bidx": partner_bidx,
        "first_name": first_name,
        "birthday_month": birthday.month if birthday else None,
        "birthday_day": birthday.day if birthday else None,
        "birthday_year": birthday.year if birthday else None,
        "origin": origin,
        "wording_version": WORDING[channel].version,
        "proof_hash": proof,
        "requested_at": now,
        "expires_at": expires,
        "confirmed_at": None,
    }
    # The uid and the address stay as first written (the ciphertext is bound to that uid);
    # everything about this request replaces the last one's. confirmed_at goes back to NULL:
    # asking again is a new request (an unsubscribed customer may be coming back).
    kept = ("uid", "channel", "value_bidx", "value_enc")
    stmt = upsert(
        session, _requests, ["channel", "value_bidx"], [k for k in values if k not in kept]
    )
    row_uid = session.execute(stmt.values(values).returning(_requests.c.uid)).scalar_one()
    return Confirmation(channel, address, bidx, confirm_token(row_uid, expires), row_uid)


def submit(
    session: Session,
    signup: Signup,
    *,
    ip: str,
    user_agent: str,
    may_message=None,  # noqa: ANN001 - (address bidx) -> bool, the per-address brake
    now: datetime | None = None,
) -> list[Confirmation]:
    """Record a checked signup and queue its confirmations; returns those queued. Commits.

    The request rows are committed first; the confirmations go out from a worker
    (`send_confirmation`), which takes the provider's request limit like every send and
    waits its turn when a crowd signs up at once, instead of the page calling the provider.
    """
    now = as_utc(now) or utcnow()
    settings = signup_settings(session)
    proof = consent_proof_hash(ip, user_agent)
    bidx = {
        c: _bidx(c, a)
        for c, a in ((Channel.EMAIL.value, signup.email), (Channel.SMS.value, signup.phone))
        if a
    }
    asks = [
        _request(
            session,
            channel,
            signup.email if channel == Channel.EMAIL.value else signup.phone,
            partner_bidx=next((b for c, b in bidx.items() if c != channel), None),
            first_name=signup.first_name,
            birthday=signup.birthday,
            origin=signup.origin,
            proof=proof,
            now=now,
            hours=settings.confirm_hours,
        )
        for channel in signup.channels
    ]
    session.commit()
    wanted = [a for a in asks if may_message is None or may_message(a.address_bidx)]
    if wanted:
        asked = int(now.timestamp() * 1_000_000)
        jobs.queue().enqueue(
            jobs.DEFAULT, [_confirmation_job(a.request_uid, asked, 0) for a in wanted]
        )
    return wanted


# Sending a confirmation (a worker job) ---------------------------------------------------------

CONFIRMATION_JOB = "workers.tasks.send_signup_confirmation"
CONFIRMATION_RETRIES = 6  # provider errors (not rate limits): about 5 minutes of back-off


def _confirmation_job(request_uid: str, asked_us: int, attempt: int) -> jobs.Job:
    return jobs.Job(
        CONFIRMATION_JOB,
        (request_uid, asked_us, attempt),
        job_id=f"signup-{request_uid}-{attempt}-{uuid.uuid4().hex[:8]}",
        timeout_s=60,
        result_ttl_s=0,
    )


def send_confirmation(session: Session, request_uid: str, asked_us: int, attempt: int = 0) -> str:
    """Send the confirmation of a waiting request; returns what happened (for the job's log).

    `asked_us` is when this confirmation was asked for (µs since the epoch). Nothing is sent for
    a request confirmed, expired or gone in the meantime. The provider key is the request and
    that moment, so a retry never sends twice (Resend's idempotency key, the outbox's unique
    key), and each ask the per-address brake let through is one message. A rate limit (ours or the provider's 429) puts
    the job back for when a request may go; a provider error backs off, CONFIRMATION_RETRIES
    times at most.
    """
    from marketing_ui.core.sending.providers import OutgoingEmail, OutgoingSms
    from marketing_ui.core.sending.rate_limiter import RateLimited
    from marketing_ui.core.sending.throttle import limited_email_provider, limited_sms_provider

    row = session.execute(
        select(SignupRequest).where(SignupRequest.uid == request_uid)
    ).scalar_one_or_none()
    now = utcnow()
    if row is None or row.confirmed_at is not None or as_utc(row.expires_at) <= now:
        return "nothing to send"
    expires = as_utc(row.expires_at)
    assert expires is not None
    address = cipher().decrypt(row.value_enc, _aad(row.uid))
    business = business_identity(session)
    hours = signup_settings(session).confirm_hours
    sms_text = sms_confirmation_text(session) if row.channel == Channel.SMS.value else ""
    limits = sending_limits(session)
    session.commit()  # no transaction held while the provider answers
    settings = get_settings()
    key = f"signup-{row.uid}-{asked_us}"
    retry_in: float | None = None
    try:
        if row.channel == Channel.EMAIL.value:
            subject, html, text = confirmation_email(
                business, confirm_url(confirm_token(row.uid, expires)), hours
            )
            message = OutgoingEmail(
                key=key,
                to=address,
                from_=_from(business),
                subject=subject,
                html=html,
                text=text,
                headers={},
                tags={"transactional": "signup"},
            )
            provider = limited_email_provider(limits, settings, session.get_bind())
            outcome = provider.send_batch([message], key)[0]
        else:
            outcome = limited_sms_provider(limits, settings, session.get_bind()).send(
                OutgoingSms(key=key, to=address, from_=settings.twilio_from_number, body=sms_text)
            )
    except RateLimited as exc:
        outcome, retry_in = None, max(exc.wait_s, 1.0)
    except Exception as exc:  # noqa: BLE001 - the request is stored; try again later
        log.warning("signup confirmation (%s) not sent: %s", row.channel, type(exc).__name__)
        outcome = None
    if outcome is not None and outcome.ok:
        return "sent"
    if outcome is not None and outcome.rate_limited:
        retry_in = max(outcome.retry_after_s or 0.0, 1.0)
    if retry_in is None:  # a provider error: back off, a few times
        if attempt >= CONFIRMATION_RETRIES:
            log.warning(
                "signup confirmation (%s) given up after %d tries", row.channel, attempt + 1
            )
            return "given up"
        retry_in = 5.0 * 2**attempt
    at = now + timedelta(seconds=retry_in)
    if at >= expires:
        return "expired before it could be sent"
    jobs.queue().enqueue(jobs.DEFAULT, [_confirmation_job(row.uid, asked_us, attempt + 1)], at=at)
    return f"again in {retry_in:.0f} s"


def _from(business: BusinessIdentity) -> str:
    from marketing_ui.core.messages import from_address

    return from_address(None, business)


def confirmation_email(business: BusinessIdentity, link: str, hours: int) -> tuple[str, str, str]:
    """(subject, html, text) of the confirmation email: transactional, no tracking, no coupon."""
    name = business.business_name
    subject = f"Confirm your subscription to {name}"
    lasts = f"The link works for {hours} hours."
    text = (
        f"Hello,\n\nSomeone (we hope you) asked to get emails from {name}.\n"
        f"Confirm here: {link}\n\n{lasts} If it was not you, ignore this email: nothing "
        f"happens unless you confirm.\n\n{name}\n{business.postal_address}\n"
    )
    html = (
        '<!doctype html><html><body style="font-family:Arial,sans-serif;color:#18181b">'
        f"<p>Hello,</p><p>Someone (we hope you) asked to get emails from {escape(name)}.</p>"
        f'<p><a href="{escape(link)}" style="display:inline-block;padding:12px 20px;'
        'background:#18181b;color:#ffffff;border-radius:8px;text-decoration:none">'
        "Confirm my subscription</a></p>"
        f"<p>{lasts} If it was not you, ignore this email: nothing happens unless you "
        "confirm.</p>"
        f'<p style="color:#71717a;font-size:12px">{escape(name)}<br>'
        f"{escape(business.postal_address)}</p></body></html>"
    )
    return subject, html, text


# Confirming ---------------------------------------------------------------------------------


class Outcome(StrEnum):
    CONFIRMED = "confirmed"
    ALREADY = "already"  # the link was used before
    EXPIRED = "expired"  # too old, or the request is gone (purged, or STOP)
    INVALID = "invalid"  # not a link we made


def check_link(session: Session, token: str, now: datetime | None = None) -> Outcome:
    """What the confirm page will say, without confirming anything (the GET a scanner makes)."""
    now = as_utc(now) or utcnow()
    row, outcome = _link_row(session, token, now)
    if row is None:
        return outcome
    return Outcome.ALREADY if row.confirmed_at is not None else Outcome.CONFIRMED


def _link_row(session: Session, token: str, now: datetime) -> tuple[SignupRequest | None, Outcome]:
    parsed = parse_confirm_token(token)
    if parsed is None:
        return None, Outcome.INVALID
    uid, expires = parsed
    if expires <= now:
        return None, Outcome.EXPIRED
    row = session.execute(
        select(SignupRequest).where(
            SignupRequest.uid == uid, SignupRequest.channel == Channel.EMAIL.value
        )
    ).scalar_one_or_none()
    return row, (Outcome.EXPIRED if row is None else Outcome.CONFIRMED)


def confirm_link(
    session: Session, token: str, *, ip: str, user_agent: str, now: datetime | None = None
) -> Outcome:
    """The person pressed Confirm on the email link's page: grant email consent once. Commits."""
    now = as_utc(now) or utcnow()
    row, outcome = _link_row(session, token, now)
    if row is None:
        return outcome
    if not _claim(session, row.id, now):  # type: ignore[arg-type]
        session.rollback()
        return Outcome.ALREADY
    note = "confirmed by email link" + (f"; form proof {row.proof_hash}" if row.proof_hash else "")
    _grant(session, row, SOURCE_CONFIRM_LINK, note, consent_proof_hash(ip, user_agent), now)
    session.commit()
    return Outcome.CONFIRMED


def _claim(session: Session, request_id: int, now: datetime) -> bool:
    """Mark the request confirmed unless it already is: exactly one caller wins."""
    result = session.execute(
        update(_requests)
        .where(_requests.c.id == request_id, _requests.c.confirmed_at.is_(None))
        .values(confirmed_at=now)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def _grant(
    session: Session, row: SignupRequest, source: str, note: str, proof: str, now: datetime
) -> int:
    """Find or make the customer for a confirmed request and grant its channel; the customer id."""
    channel = row.channel
    if row.partner_bidx:  # the other channel's grant of the same signup may be running right now
        take_turns(session, f"signup:{row.value_bidx}", f"signup:{row.partner_bidx}")
    address = cipher().decrypt(row.value_enc, _aad(row.uid))
    bidx_col = _customers.c[f"{_field(channel)}_bidx"]
    customer_id = session.execute(
        select(_customers.c.id).where(bidx_col == row.value_bidx)
    ).scalar_one_or_none()
    if customer_id is None and row.partner_bidx:
        customer_id = _attach_to_partner(session, row, address, now)
    if customer_id is None:
        customer_id = _create_customer(session, row, address, now)
    _fill_blanks(session, customer_id, row)
    set_consent(
        session,
        customer_id,
        channel,
        True,
        source,
        note,
        ConsentProof(origin=row.origin, proof_hash=proof, wording_version=row.wording_version),
    )
    if channel == Channel.SMS.value:  # an explicit YES lifts an earlier STOP, as START does
        session.execute(
            delete(Suppression.__table__).where(
                Suppression.channel == Channel.SMS.value,
                Suppression.value_bidx == row.value_bidx,
                Suppression.reason == SuppressionReason.STOP.value,
            )
        )
    return customer_id


def _attach_to_partner(
    session: Session, row: SignupRequest, address: str, now: datetime
) -> int | None:
    """The customer who has the other address of the same signup and none on this channel."""
    mine = _field(row.channel)
    other = "phone" if mine == "email" else "email"
    hit = session.execute(
        select(_customers.c.id, _customers.c.uid).where(
            _customers.c[f"{other}_bidx"] == row.partner_bidx,
            _customers.c[f"{mine}_bidx"].is_(None),
            _customers.c.erased_at.is_(None),
        )
    ).first()
    if hit is None:
        return None
    try:
        with session.begin_nested():
            done = session.execute(
                update(_customers)
                .where(_customers.c.id == hit[0], _customers.c[f"{mine}_bidx"].is_(None))
                .values(
                    {
                        f"{mine}_bidx": row.value_bidx,
                        f"{mine}_enc": encrypt_contact(cipher(), hit[1], mine, address),
                        "updated_at": now,
                    }
                )
            )
    except IntegrityError:  # someone else got this address meanwhile: use theirs
        return None
    return hit[0] if done.rowcount == 1 else None  # type: ignore[attr-defined]


def _create_customer(session: Session, row: SignupRequest, address: str, now: datetime) -> int:
    """INSERT … ON CONFLICT DO NOTHING on the unique blind index, then the row that won."""
    mine = _field(row.channel)
    uid = new_uid()
    inserted = session.execute(
        insert_ignore(session, _customers).values(
            {
                "uid": uid,
                "first_name": row.first_name,
                "last_name": "",
                f"{mine}_enc": encrypt_contact(cipher(), uid, mine, address),
                f"{mine}_bidx": row.value_bidx,
                "email_consent": False,
                "sms_consent": False,
                "birthday_month": row.birthday_month,
                "birthday_day": row.birthday_day,
                "birthday_year": row.birthday_year,
                "created_at": now,
                "updated_at": now,
            }
        )
    )
    customer_id = session.execute(
        select(_customers.c.id).where(_customers.c[f"{mine}_bidx"] == row.value_bidx)
    ).scalar_one()
    if inserted.rowcount == 1:  # type: ignore[attr-defined]
        audit.record(
            session, "customer.create", "customer", customer_id, f"source: signup ({row.origin})"
        )
    return customer_id


def _fill_blanks(session: Session, customer_id: int, row: SignupRequest) -> None:
    """A confirmed signup fills a known customer's empty name and birthday, never overwrites."""
    if row.first_name:
        session.execute(
            update(_customers)
            .where(_customers.c.id == customer_id, _customers.c.first_name == "")
            .values(first_name=row.first_name)
        )
    if row.birthday_month is not None:
        session.execute(
            update(_customers)
            .where(_customers.c.id == customer_id, _customers.c.birthday_month.is_(None))
            .values(
                birthday_month=row.birthday_month,
                birthday_day=row.birthday_day,
                birthday_year=row.birthday_year,
            )
        )


# Text-to-join and YES -----------------------------------------------------------------------


def is_join_keyword(session: Session, body: str) -> bool:
    """Whether an inbound text is the join keyword (case-insensitive, spaces trimmed)."""
    word = " ".join(body.split()).upper()
    return bool(word) and len(word) <= 20 and word == signup_settings(session).keyword.upper()


def text_to_join(
    session: Session,
    e164: str,
    message_sid: str,
    *,
    may_message=None,  # noqa: ANN001 - (address bidx) -> bool
    now: datetime | None = None,
) -> str:
    """An inbound keyword: ask this number for YES; returns the reply text ("" for none).

    Answered the same for a known or unknown number. The reply is the confirmation itself
    (TwiML), so nothing else is sent.
    """
    now = as_utc(now) or utcnow()
    ask = _request(
        session,
        Channel.SMS.value,
        e164,
        partner_bidx=None,
        first_name="",
        birthday=None,
        origin=TEXT_TO_JOIN_ORIGIN,
        proof=sign(f"sms\x1f{message_sid}", _PROOF_PURPOSE) if message_sid else None,
        now=now,
        hours=signup_settings(session).confirm_hours,
    )
    session.flush()
    if may_message is not None and not may_message(ask.address_bidx):
        return ""
    return sms_confirmation_text(session)


def confirm_sms_yes(
    session: Session, e164: str, message_sid: str, now: datetime | None = None
) -> Outcome | None:
    """A YES from a number with a signup waiting: grant SMS consent. None: no signup waits."""
    now = as_utc(now) or utcnow()
    row = session.execute(
        select(SignupRequest).where(
            SignupRequest.channel == Channel.SMS.value,
            SignupRequest.value_bidx == blind_indexer().phone(e164),
            SignupRequest.confirmed_at.is_(None),
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    if as_utc(row.expires_at) <= now:  # type: ignore[operator]
        return Outcome.EXPIRED
    if not _claim(session, row.id, now):  # type: ignore[arg-type]
        return Outcome.ALREADY
    proof = sign(f"sms\x1f{message_sid}", _PROOF_PURPOSE) if message_sid else ""
    note = "YES reply" + (f" (Twilio message {message_sid[:40]})" if message_sid else "")
    _grant(session, row, SOURCE_SMS_YES, note, proof or None, now)  # type: ignore[arg-type]
    return Outcome.CONFIRMED


def sms_reply(session: Session, outcome: Outcome) -> str:
    """The reply to a YES that met a waiting signup."""
    settings = signup_settings(session)
    business = business_identity(session).business_name
    if outcome == Outcome.EXPIRED:
        return SMS_EXPIRED.format(business=business, keyword=settings.keyword)
    return SMS_CONFIRMED.format(business=business, frequency=sms_frequency(frequency_cap(session)))


def cancel_sms_request(session: Session, e164: str) -> None:
    """STOP also withdraws a signup waiting for YES (a later YES then confirms nothing)."""
    session.execute(
        delete(_requests).where(
            _requests.c.channel == Channel.SMS.value,
            _requests.c.value_bidx == blind_indexer().phone(e164),
            _requests.c.confirmed_at.is_(None),
        )
    )


# Housekeeping and reports -------------------------------------------------------------------


def purge_expired(session: Session, now: datetime | None = None) -> int:
    """Delete requests past their expiry, confirmed or not (their links no longer work); count."""
    now = as_utc(now) or utcnow()
    result = session.execute(delete(_requests).where(_requests.c.expires_at < now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# The owner's own sources (printed QR codes, links) ------------------------------------------

MAX_SOURCE_LENGTH = 40
_SOURCE_RE = re.compile(rf"[a-z0-9](?:[a-z0-9-]{{0,{MAX_SOURCE_LENGTH - 2}}}[a-z0-9])?")


class SourceError(ValueError):
    """A source slug that cannot be used; the message names the field and what it takes."""


def clean_source(text: str, default: str) -> str:
    """The slug for `text` (trimmed, lower case; `default` when blank), or SourceError.

    Lower case so "Window" and "window" count as one source.
    """
    slug = (text or "").strip().lower() or default
    if not _SOURCE_RE.fullmatch(slug):
        raise SourceError(
            f"Source: use letters, digits and dashes only (at most {MAX_SOURCE_LENGTH}, "
            "not starting or ending with a dash), e.g. window or table-tent."
        )
    return slug


def signups_by_source(session: Session) -> list[tuple[str, int]]:
    """Confirmed signups per origin (the `src` of /join, "text-to-join"), most first.

    A signup is a customer who confirmed from that origin; confirming email and texts counts
    once, and so does confirming again later.
    """
    count = func.count(func.distinct(ConsentEvent.customer_id))
    rows = session.execute(
        select(ConsentEvent.origin, count)
        .where(ConsentEvent.source.in_(CONFIRMED_SOURCES), ConsentEvent.granted.is_(True))
        .group_by(ConsentEvent.origin)
        .order_by(count.desc(), ConsentEvent.origin)
    ).all()
    return [(origin or DEFAULT_ORIGIN, int(n)) for origin, n in rows]


# The embeddable form ----------------------------------------------------------------------


def join_url(src: str = "") -> str:
    """The public signup page, with its source when given (what a QR code or a link points at)."""
    base = f"{get_settings().api_base_url}{JOIN_PATH}"
    return f"{base}?src={clean_origin(src)}" if src else base


def embed_snippet(session: Session, src: str = "website") -> str:
    """A plain HTML <form> for the business's own website, posting to /join.

    The same fields, consent wording and honeypot as the page; the website's origin must be
    listed in the signup settings (cross-origin posts from anywhere else are refused). After a
    new wording version, the snippet must be pasted again.
    """
    fields = [
        ("First name", "text", "first_name", ' required maxlength="120" autocomplete="given-name"'),
        ("Email", "email", "email", ' maxlength="254" autocomplete="email"'),
        ("Mobile number", "tel", "phone", ' maxlength="32" autocomplete="tel"'),
        ("Birthday month (1-12, optional)", "number", "birthday_month", ' min="1" max="12"'),
        ("Birthday day (optional)", "number", "birthday_day", ' min="1" max="31"'),
    ]
    lines = [
        f'<form method="post" action="{escape(join_url())}" accept-charset="utf-8">',
        f'  <input type="hidden" name="src" value="{escape(clean_origin(src))}">',
        *(
            f'  <p><label>{label}<br><input type="{kind}" name="{name}"{extra}></label></p>'
            for label, kind, name, extra in fields
        ),
        *(
            f'  <p><label><input type="checkbox" name="{channel}_opt_in" value="1"> '
            f"{escape(consent_text(session, channel))}</label></p>"
            for channel in (Channel.EMAIL.value, Channel.SMS.value)
        ),
        '  <div style="position:absolute;left:-10000px" aria-hidden="true">'
        '<input type="text" name="website" tabindex="-1" autocomplete="off"></div>',
        '  <p><button type="submit">Sign me up</button></p>',
        "</form>",
    ]
    return "\n".join(lines)
