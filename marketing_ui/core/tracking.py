"""Signed public URLs put into messages (unsubscribe, open pixel, click, view online, QR image).

The endpoints in marketing_ui/api verify these with the `verify_*` functions here, so a URL
can be neither guessed from ids nor edited into an open redirect.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote, unquote

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


# Admin views (the Outbox): looking at a sent email is not the customer opening it -----------

PREVIEW_PARAM = "preview"


def view_online_preview_url(delivery_id: int) -> str:
    """The view-online page as the admin sees it: a signed marker turns tracking off."""
    marker = sign(str(delivery_id), "view-preview")
    return f"{view_online_url(delivery_id)}?{PREVIEW_PARAM}={marker}"


def verify_view_preview(delivery_id: int, marker: str) -> bool:
    return verify(str(delivery_id), marker, "view-preview")


_PIXEL_IMG_RE = re.compile(
    r"<img\b[^>]*?\bsrc\s*=\s*([\"'])[^\"']*/t/o/\d+/[^\"'/]+\.gif\1[^>]*>", re.IGNORECASE
)
_CLICK_LINK_RE = re.compile(r"https?://[^\"'\s<>]*?/t/c/(\d+)/([^\"'/?\s<>]+)\?u=([^\"'\s<>&]*)")
_VIEW_LINK_RE = re.compile(r"https?://[^\"'\s<>]*?/v/(\d+)/([^\"'/?\s<>]+)(?=[\"'\s<>])")


def without_tracking(html_source: str) -> str:
    """A sent email as an admin may look at it (the Outbox): opening it records no open.

    The open pixel goes, tracked links point straight at their destinations (only when the
    signature proves the destination is ours; anything else becomes "#"), and the view-online
    link carries the signed preview marker, so that page records nothing either.
    """

    def destination(match: re.Match[str]) -> str:
        delivery_id, signature, target = int(match.group(1)), match.group(2), match.group(3)
        url = unquote(html.unescape(target))
        return html.escape(url) if verify_click(delivery_id, url, signature) else "#"

    def preview(match: re.Match[str]) -> str:
        delivery_id = int(match.group(1))
        if not verify_view(delivery_id, match.group(2)):
            return "#"
        return html.escape(view_online_preview_url(delivery_id))

    text = _PIXEL_IMG_RE.sub("", html_source)
    text = _CLICK_LINK_RE.sub(destination, text)
    return _VIEW_LINK_RE.sub(preview, text)


def qr_image_url(coupon_token: str) -> str:
    """The QR PNG for a coupon (the token is already an unguessable secret)."""
    return f"{_api()}/qr/{coupon_token}.png"
