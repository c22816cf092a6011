"""GET /v/{delivery_id}/{sig}: "view this email in your browser", rendered as the recipient got it.

The signature binds the delivery id, so nobody can page through other people's emails. The page
is personal (name, coupon), hence no caching, no referrer and no indexing; scripts are blocked.
With `?preview=<marker>` (a second signature, put there by the admin's Outbox view) the page
renders without the open pixel and tracked links: an admin looking is not a customer opening.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from marketing_ui.api.app import ROUTES
from marketing_ui.api.tracking import delivery_id_of, plausible_signature
from marketing_ui.api.unsubscribe import page
from marketing_ui.core.ab_tests import campaign_for_delivery
from marketing_ui.core.app_settings import business_identity
from marketing_ui.core.coupons import secrets_for_deliveries
from marketing_ui.core.db import session_scope
from marketing_ui.core.messages import render_delivery
from marketing_ui.core.models import Campaign, Channel, Customer, Delivery
from marketing_ui.core.rendering import TemplateError
from marketing_ui.core.tracking import PREVIEW_PARAM, verify_view, verify_view_preview

_HEADERS = {
    "Cache-Control": "no-store, private",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; img-src * data:; style-src 'unsafe-inline' *; font-src *; "
        "script-src 'none'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def rendered_html(delivery_id: int, tracked: bool = True) -> str | None:
    """The email HTML for one delivery, or None when it no longer exists or cannot render."""
    with session_scope() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.channel != Channel.EMAIL:
            return None
        campaign = session.get(Campaign, delivery.campaign_id)
        customer = session.get(Customer, delivery.customer_id)
        if campaign is None or customer is None:
            return None
        coupon = secrets_for_deliveries(session, [delivery_id]).get(delivery_id)
        try:
            rendered, _ = render_delivery(
                campaign_for_delivery(session, campaign, delivery_id),  # its A/B variant
                delivery_id=delivery_id,
                first_name=customer.first_name,
                last_name=customer.last_name,
                customer_uid=customer.uid,
                business=business_identity(session),
                coupon=coupon,
                tracked=tracked,
            )
            return rendered.html
        except (TemplateError, ValueError):
            return None  # a QR message whose coupon is gone is not shown with a sample one


async def view_online(request: Request) -> Response:
    delivery_id = delivery_id_of(request.path_params["delivery_id"])
    sig = request.path_params["sig"]
    marker = request.query_params.get(PREVIEW_PARAM)
    valid = bool(delivery_id) and plausible_signature(sig) and verify_view(delivery_id, sig)
    if valid and marker is not None:
        valid = plausible_signature(marker) and verify_view_preview(delivery_id, marker)
    if not valid:
        return page(
            "This link is not valid",
            "The link is incomplete or has been changed. Please open it again from the email.",
            status=400,
        )
    html = await run_in_threadpool(rendered_html, delivery_id, marker is None)
    if html is None:
        return page(
            "This email is no longer available",
            "It may have been withdrawn by the sender.",
            status=404,
        )
    return HTMLResponse(html, headers=_HEADERS)


ROUTES.append(Route("/v/{delivery_id}/{sig}", view_online, methods=["GET"]))
