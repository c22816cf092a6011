"""The render stage: claimed deliveries -> provider messages, through marketing_ui.core.messages.

Addresses are decrypted here and live only in these objects and the provider call. Rendering
is deterministic for a given delivery (signed links, stored coupon), which matters: a replayed
batch must be byte-identical for the provider's idempotency key to match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from marketing_ui.core.ab_tests import campaigns_for_deliveries
from marketing_ui.core.app_settings import BusinessIdentity
from marketing_ui.core.coupons import CouponSecret, secrets_for_deliveries
from marketing_ui.core.crypto import cipher
from marketing_ui.core.customers import decrypt_contact
from marketing_ui.core.messages import (
    compiled_email,
    delivery_context,
    email_headers,
    from_address,
    render_delivery,
    render_sms_text,
)
from marketing_ui.core.models import Campaign, Channel, Customer
from marketing_ui.core.rendering import TemplateError
from marketing_ui.core.sending.claim import Claimed
from marketing_ui.core.sending.providers import OutgoingEmail


@dataclass(frozen=True)
class Recipient:
    """What rendering and quiet hours need about one claimed delivery's customer."""

    delivery: Claimed
    uid: str
    first_name: str
    last_name: str
    address: str  # decrypted email or E.164 phone; never logged
    timezone: str | None


def load_recipients(
    session: Session, channel: str, claimed: Sequence[Claimed]
) -> dict[int, Recipient]:
    """delivery id -> recipient, in one query; deliveries whose customer is gone are left out."""
    column = "email" if channel == Channel.EMAIL else "phone"
    encrypted = Customer.email_enc if channel == Channel.EMAIL else Customer.phone_enc
    rows = session.execute(
        select(
            Customer.id,
            Customer.uid,
            Customer.first_name,
            Customer.last_name,
            encrypted,
            Customer.timezone,
        ).where(Customer.id.in_([c.customer_id for c in claimed]))
    ).all()
    by_customer = {r[0]: r for r in rows}
    fc = cipher()
    found: dict[int, Recipient] = {}
    for c in claimed:
        row = by_customer.get(c.customer_id)
        if row is None:
            continue
        _, uid, first, last, token, tz = row
        found[c.id] = Recipient(c, uid, first, last, decrypt_contact(fc, uid, column, token), tz)
    return found


def _coupons(
    session: Session, campaign: Campaign, recipients: Sequence[Recipient]
) -> dict[int, CouponSecret]:
    if not campaign.has_qr_code:
        return {}
    return secrets_for_deliveries(session, [r.delivery.id for r in recipients])


def email_messages(
    session: Session,
    campaign: Campaign,
    recipients: Sequence[Recipient],
    business: BusinessIdentity,
) -> tuple[list[OutgoingEmail], dict[int, str]]:
    """(messages keyed `d<delivery id>`, delivery id -> render error) for one provider call."""
    coupons = _coupons(session, campaign, recipients)
    sender = from_address(campaign, business)
    variants = campaigns_for_deliveries(session, campaign, [r.delivery.id for r in recipients])
    messages: list[OutgoingEmail] = []
    errors: dict[int, str] = {}
    for recipient in recipients:
        content = variants.get(recipient.delivery.id, campaign)  # its A/B variant, if any
        compiled = compiled_email(content)  # MJML once per campaign version and variant
        try:
            rendered, context = render_delivery(
                content,
                delivery_id=recipient.delivery.id,
                first_name=recipient.first_name,
                last_name=recipient.last_name,
                customer_uid=recipient.uid,
                business=business,
                coupon=coupons.get(recipient.delivery.id),
                compiled=compiled,
            )
        except (TemplateError, ValueError) as exc:
            errors[recipient.delivery.id] = f"render failed: {exc}"[:300]
            continue
        messages.append(
            OutgoingEmail(
                key=f"d{recipient.delivery.id}",
                to=recipient.address,
                from_=sender,
                subject=rendered.subject,
                html=rendered.html,
                text=rendered.text,
                headers=email_headers(context["unsubscribe_url"]),
                tags={"delivery_id": str(recipient.delivery.id), "campaign_id": str(campaign.id)},
            )
        )
    return messages, errors


def sms_bodies(
    session: Session,
    campaign: Campaign,
    recipients: Sequence[Recipient],
    business: BusinessIdentity,
) -> tuple[dict[int, str], dict[int, str]]:
    """(delivery id -> SMS text, delivery id -> render error)."""
    coupons = _coupons(session, campaign, recipients)
    variants = campaigns_for_deliveries(session, campaign, [r.delivery.id for r in recipients])
    bodies: dict[int, str] = {}
    errors: dict[int, str] = {}
    for recipient in recipients:
        content = variants.get(recipient.delivery.id, campaign)  # its A/B variant, if any
        try:
            context = delivery_context(
                content,
                delivery_id=recipient.delivery.id,
                first_name=recipient.first_name,
                last_name=recipient.last_name,
                customer_uid=recipient.uid,
                business=business,
                coupon=coupons.get(recipient.delivery.id),
            )
            bodies[recipient.delivery.id] = render_sms_text(content, context)
        except (TemplateError, ValueError) as exc:
            errors[recipient.delivery.id] = f"render failed: {exc}"[:300]
    return bodies, errors
