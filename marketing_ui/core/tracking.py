"""Signed public URLs put into messages (unsubscribe, open pixel, click, view online, QR image).

The endpoints in marketing_ui/api verify these with the `verify_*` functions here, so a URL
can be neither guessed from ids nor edited into an open redirect.
"""

from __future__ import annotations

from urllib.parse import quote

from marketing_ui.core.config import get_settings
from marketing_ui.core.crypto import sign, verify


def _api() -> str:
    return get_settings().api_base_url


def unsubscribe_token(customer_uid: str, campaign_id: int | None) -> str:
    body = f"{customer_uid}.{campaign_id or 0}"
    return f"{body}.{sign(body, 'unsubscribe')}"


def parse_unsubscribe_token(token: str) -> tuple[str, int | None] | None:
    """(customer uid, campaign id or None) when the token is genuine, else None."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[0]) > 64:
        return None
    body = f"{parts[0]}.{parts[1]}"
    if not verify(body, parts[2], "unsubscribe"):
        return None
    return parts[0], (int(parts[1]) or None)


def unsubscribe_url(customer_uid: str, campaign_id: int | None) -> str:
    return f"{_api()}/u/{unsubscribe_token(customer_uid, campaign_id)}"


def open_pixel_url(delivery_id: int) -> str:
    return f"{_api()}/t/o/{delivery_id}/{sign(str(delivery_id), 'open')}.gif"


def verify_open(delivery_id: int, signature: str) -> bool:
    return verify(str(delivery_id), signature, "open")


def click_url(delivery_id: int, destination: str) -> str:
    sig = sign(f"{delivery_id}\x1f{destination}", "click")
    return f"{_api()}/t/c/{delivery_id}/{sig}?u={quote(destination, safe='')}"


def verify_click(delivery_id: int, destination: str, signature: str) -> bool:
    return destination.startswith(("http://", "https://")) and verify(
        f"{delivery_id}\x1f{destination}", signature, "click"
    )


def view_online_url(delivery_id: int) -> str:
    return f"{_api()}/v/{delivery_id}/{sign(str(delivery_id), 'view')}"


def verify_view(delivery_id: int, signature: str) -> bool:
    return verify(str(delivery_id), signature, "view")


def qr_image_url(coupon_token: str) -> str:
    """The QR PNG for a coupon (the token is already an unguessable secret)."""
    return f"{_api()}/qr/{coupon_token}.png"
