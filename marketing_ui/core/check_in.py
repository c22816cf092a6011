"""Counter check-in: staff find a customer by exact phone, exact email or personal QR, and record a visit.

Lookups are exact, through the blind indexes (phone, email) or a signed token (the personal
QR), so the counter can confirm someone standing there but cannot browse or guess its way
through the customer list; what it shows is a first name, a masked contact and the visit
summary. The personal QR token is `m.<customer uid>.<signature>`: the "m." and the dot keep it
apart from coupon tokens (URL-safe base64 has no dots), so the same /redeem/<token> link that a
phone camera opens for a coupon also opens a customer's card.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlmodel import Session

from marketing_ui.core.clock import as_utc, utcnow
from marketing_ui.core.config import get_settings
from marketing_ui.core.coupons import Actor, active_role, redeem_url
from marketing_ui.core.crypto import blind_indexer, cipher, normalize_phone, sign, verify
from marketing_ui.core.customers import (
    decrypt_contact,
    looks_like_phone,
    masked_email,
    masked_phone,
)
from marketing_ui.core.models import Customer, Role, VisitSource
from marketing_ui.core.money import Amount
from marketing_ui.core.qr import qr_data_uri
from marketing_ui.core.visits import record_visit

QR_PREFIX = "m."
_PURPOSE = "personal-qr"
_MAX_TOKEN_LENGTH = 120


@dataclass(frozen=True)
class CheckInCard:
    """What the counter sees of a found customer."""

    customer_id: int
    first_name: str
    contact: str  # masked: "n***@example.com" or "•••0199"
    visit_count: int
    last_visit_at: datetime | None


class _HasUid(Protocol):
    @property
    def uid(self) -> str: ...


def personal_qr_image(customer: _HasUid) -> str:
    """The personal QR as an inline PNG, for the customer's card in the admin pages."""
    return qr_data_uri(personal_qr_url(customer))


def personal_qr_token(customer: _HasUid) -> str:
    """The signed token in a customer's personal QR; it names the customer by uid, not id."""
    return f"{QR_PREFIX}{customer.uid}.{sign(customer.uid, _PURPOSE)}"


def personal_qr_url(customer: _HasUid) -> str:
    """What the personal QR encodes: the redeem screen, which shows the customer's card."""
    return redeem_url(personal_qr_token(customer))


def is_personal_qr_token(text: str) -> bool:
    return text.startswith(QR_PREFIX)


def customer_from_qr(session: Session, token: str) -> Customer | None:
    """The customer a genuine personal QR token names; None for anything forged or unknown."""
    token = token.strip()
    if len(token) > _MAX_TOKEN_LENGTH or not token.startswith(QR_PREFIX):
        return None
    uid, dot, signature = token[len(QR_PREFIX) :].partition(".")
    if not dot or not uid or not verify(uid, signature, _PURPOSE):
        return None
    return session.execute(select(Customer).where(Customer.uid == uid)).scalar_one_or_none()


def _by_contact(session: Session, text: str) -> Customer | None:
    text = text.strip()
    if "@" in text:
        condition = Customer.email_bidx == blind_indexer().email(text)
    elif looks_like_phone(text):
        try:
            e164 = normalize_phone(text, get_settings().default_region)
        except ValueError:
            return None
        condition = Customer.phone_bidx == blind_indexer().phone(e164)
    else:
        return None
    return session.execute(select(Customer).where(condition)).scalar_one_or_none()


def find_customer(session: Session, text: str) -> CheckInCard | None:
    """The customer with exactly this phone, email or personal QR token, or None."""
    text = text.strip()[:_MAX_TOKEN_LENGTH]
    if not text:
        return None
    if is_personal_qr_token(text):
        customer = customer_from_qr(session, text)
    else:
        customer = _by_contact(session, text)
    return card(session, customer.id) if customer is not None else None  # type: ignore[arg-type]


def card(session: Session, customer_id: int) -> CheckInCard | None:
    customer = session.get(Customer, customer_id)
    if customer is None:
        return None
    session.refresh(customer)
    fc = cipher()
    email = decrypt_contact(fc, customer.uid, "email", customer.email_enc)
    phone = decrypt_contact(fc, customer.uid, "phone", customer.phone_enc)
    contact = masked_email(email) if email and email != "(unreadable)" else masked_phone(phone)
    return CheckInCard(
        customer_id=customer_id,
        first_name=customer.first_name,
        contact=contact,
        visit_count=int(customer.visit_count or 0),
        last_visit_at=as_utc(customer.last_visit_at),
    )


def check_in(
    session: Session, customer_id: int, user: Actor, amount: Amount | None = None
) -> CheckInCard | None:
    """Record a counter visit by an active staff or admin account, with the ticket amount if
    staff typed one (visits.ticket_amount). Commits.

    Returns the updated card, or None when the account may not (or the customer is gone).
    """
    if active_role(session, user) not in (Role.ADMIN, Role.STAFF):
        return None
    try:
        record_visit(
            session,
            customer_id,
            VisitSource.CHECK_IN,
            at=utcnow(),
            user_id=user.id,
            amount=amount,
        )
    except LookupError:
        return None
    session.commit()
    return card(session, customer_id)
