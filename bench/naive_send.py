"""The naive design bench/send.py compares against: one RQ job per message, no batching.

Kept in its own small module because a forking RQ worker imports it in every work horse.
"""

from __future__ import annotations

from marketing_ui.core.app_settings import business_identity
from marketing_ui.core.clock import utcnow
from marketing_ui.core.coupons import secrets_for_deliveries
from marketing_ui.core.crypto import cipher
from marketing_ui.core.customers import decrypt_contact
from marketing_ui.core.db import session_scope
from marketing_ui.core.messages import (
    compiled_email,
    email_headers,
    from_address,
    render_delivery,
)
from marketing_ui.core.models import Campaign, Customer, Delivery, DeliveryStatus
from marketing_ui.core.sending.providers import OutgoingEmail, email_provider


def naive_send_one(campaign_id: int, delivery_id: int) -> None:
    """The naive design: one job per message; a forked work horse renders MJML every time."""
    with session_scope() as session:
        campaign = session.get(Campaign, campaign_id)
        delivery = session.get(Delivery, delivery_id)
        assert campaign is not None and delivery is not None
        customer = session.get(Customer, delivery.customer_id)
        assert customer is not None
        business = business_identity(session)
        rendered, context = render_delivery(
            campaign,
            delivery_id=delivery_id,
            first_name=customer.first_name,
            last_name=customer.last_name,
            customer_uid=customer.uid,
            business=business,
            coupon=secrets_for_deliveries(session, [delivery_id]).get(delivery_id),
            compiled=compiled_email(campaign),  # cached per process, like the pipeline's
        )
        message = OutgoingEmail(
            key=f"d{delivery_id}",
            to=decrypt_contact(cipher(), customer.uid, "email", customer.email_enc),
            from_=from_address(campaign, business),
            subject=rendered.subject,
            html=rendered.html,
            text=rendered.text,
            headers=email_headers(context["unsubscribe_url"]),
        )
        result = email_provider().send_batch([message], f"naive-{delivery_id}")[0]
        delivery.status = DeliveryStatus.SENT if result.ok else DeliveryStatus.FAILED
        delivery.provider_message_id = result.provider_id
        delivery.sent_at = utcnow()
        session.add(delivery)
