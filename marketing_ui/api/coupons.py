"""Public coupon endpoints: the QR images, the coupon page an SMS links to, and the admin CSV export.

A token is the only key: the database holds its hash, so an unknown or malformed token gets a
404 before any QR is drawn. QR images never change for a token, so they are cached for a year.
The coupon page shows live state (valid, used, expired) and is never cached.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
from functools import lru_cache

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from marketing_ui.api.app import ROUTES
from marketing_ui.api.session import admin_or_refusal
from marketing_ui.core import app_settings
from marketing_ui.core.coupons import (
    CouponState,
    CouponView,
    export_coupons_csv,
    find_by_token,
    redeem_url,
)
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Campaign
from marketing_ui.core.qr import qr_png, qr_svg
from marketing_ui.core.time_display import format_day_and_time

IMAGE_CACHE = "public, max-age=31536000, immutable"
# Tokens are 22 URL-safe characters; anything else is not ours and never reaches the database.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
_MAX_ID = 2**31 - 1  # a larger id in the path would overflow an integer column


def _valid_token(token: str) -> bool:
    return _TOKEN.fullmatch(token) is not None


def _coupon(token: str) -> CouponView | None:
    if not _valid_token(token):
        return None
    with session_scope() as session:
        return find_by_token(session, token)


# QR images -----------------------------------------------------------------------------


class _UnknownToken(LookupError):
    """Raised (so never cached) when no coupon has the token."""


@lru_cache(maxsize=4096)
def _known_image(token: str, kind: str) -> bytes:
    """The QR of an existing coupon, drawn once per process: a token's image never changes.

    Only tokens that exist are cached (an exception is not a cached result), so made-up tokens
    cannot evict real ones and always get their 404 from the database.
    """
    if _coupon(token) is None:
        raise _UnknownToken
    url = redeem_url(token)
    return qr_png(url) if kind == "png" else qr_svg(url)


def _etag(kind: str, token: str) -> str:
    return '"' + hashlib.sha256(f"{kind}\x1f{redeem_url(token)}".encode()).hexdigest()[:32] + '"'


def _image(request: Request, kind: str, media_type: str) -> Response:
    token = request.path_params["token"]
    if not _valid_token(token):
        return Response("Not found", status_code=404, media_type="text/plain")
    try:
        body = _known_image(token, kind)
    except _UnknownToken:
        return Response("Not found", status_code=404, media_type="text/plain")
    etag = _etag(kind, token)
    headers = {"Cache-Control": IMAGE_CACHE, "ETag": etag}
    wanted = request.headers.get("if-none-match", "")
    if etag in (t.strip() for t in wanted.split(",")) or wanted.strip() == "*":
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def qr_png_endpoint(request: Request) -> Response:
    """The QR in emails; runs in Starlette's thread pool (sync DB lookup)."""
    return _image(request, "png", "image/png")


def qr_svg_endpoint(request: Request) -> Response:
    return _image(request, "svg", "image/svg+xml")


# Coupon page ---------------------------------------------------------------------------

_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",  # the URL is the coupon; do not leak it to other sites
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
}

_STYLE = """
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  background:#f4f4f5;color:#18181b;min-height:100vh;display:flex;justify-content:center;
  align-items:flex-start;padding:20px 14px}
main{background:#fff;border-radius:20px;box-shadow:0 4px 24px rgba(0,0,0,.08);
  width:100%;max-width:420px;padding:26px 22px 22px;text-align:center}
.biz{margin:0;font-size:15px;font-weight:600;letter-spacing:.06em;text-transform:uppercase;
  color:#52525b}
h1{margin:10px 0 14px;font-size:28px;line-height:1.2}
.state{display:inline-block;border-radius:999px;padding:6px 14px;font-weight:600;font-size:15px}
.state.issued{background:#dcfce7;color:#166534}
.state.redeemed{background:#e0e7ff;color:#3730a3}
.state.expired,.state.cancelled{background:#fee2e2;color:#991b1b}
.qr{margin:18px auto 6px;width:min(100%,300px)}
.qr svg{display:block;width:100%;height:auto}
.label{margin:14px 0 2px;color:#52525b;font-size:15px}
.code{margin:0;font:700 40px/1.15 ui-monospace,"SF Mono",Menlo,Consolas,monospace;
  letter-spacing:.08em;word-break:break-all}
.used .code{color:#a1a1aa;text-decoration:line-through}
.hint{margin:16px 0 0;color:#52525b;font-size:15px;line-height:1.4}
footer{margin-top:22px;padding-top:14px;border-top:1px solid #e4e4e7;color:#71717a;
  font-size:13px;line-height:1.4}
"""


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex, nofollow">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
    return HTMLResponse(document, status_code=status_code, headers=_PAGE_HEADERS)


def _state_line(view: CouponView, timezone: str) -> str:
    if view.state == CouponState.ISSUED:
        until = format_day_and_time(view.expires_at, timezone)
        return f"Valid until {until}" if until else "Valid"
    if view.state == CouponState.REDEEMED:
        used = format_day_and_time(view.redeemed_at, timezone)
        return f"Already used on {used}" if used else "Already used"
    if view.state == CouponState.EXPIRED:
        return f"Expired on {format_day_and_time(view.expires_at, timezone)}"
    return "This offer has been withdrawn"


def _hint(view: CouponView) -> str:
    if view.state == CouponState.ISSUED:
        return (
            "Show this screen at the counter: staff scan the QR code or type the code. Valid once."
        )
    if view.state == CouponState.REDEEMED:
        return "This coupon has been redeemed. Thank you for visiting!"
    return "This coupon can no longer be redeemed."


def coupon_page(request: Request) -> HTMLResponse:
    """What an SMS recipient opens: the QR, the code to read out, the offer and its state."""
    token = request.path_params["token"]
    view = _coupon(token)
    with session_scope() as session:
        identity = app_settings.business_identity(session)
    business = html.escape(identity.business_name)
    if view is None:
        return _page(
            f"Coupon not found · {identity.business_name}",
            f'<main id="coupon-missing"><p class="biz">{business}</p><h1>Coupon not found</h1>'
            '<p class="hint">This link is not a valid coupon. Check that you opened the whole '
            "link from your message, or ask us at the counter.</p></main>",
            status_code=404,
        )
    valid = view.state == CouponState.ISSUED
    qr = ""
    if valid:
        svg = _known_image(token, "svg").decode()
        qr = f'<div class="qr" role="img" aria-label="QR code for this coupon">{svg}</div>'
    offer = html.escape(view.offer_text or view.campaign_name)
    body = (
        f'<main class="{"valid" if valid else "used"}" data-state="{view.state.value}">'
        f'<p class="biz">{business}</p>'
        f'<h1 id="offer">{offer}</h1>'
        f'<span class="state {view.state.value}" id="coupon-state">'
        f"{html.escape(_state_line(view, identity.timezone))}</span>"
        f"{qr}"
        f'<p class="label">{"Or tell staff this code" if valid else "Coupon code"}</p>'
        f'<p class="code" id="short-code">{html.escape(view.short_code)}</p>'
        f'<p class="hint">{html.escape(_hint(view))}</p>'
        f"<footer>{business}<br>{html.escape(identity.postal_address)}</footer>"
        "</main>"
    )
    return _page(f"{view.offer_text or 'Your coupon'} · {identity.business_name}", body)


# Admin CSV export ----------------------------------------------------------------------


def export_csv_path(campaign_id: int) -> str:
    """Where the coupon list's "Export CSV" button points (below get_settings().api_base_url)."""
    return f"/api/campaigns/{campaign_id}/coupons.csv"


def export_csv(request: Request) -> Response:
    """Every coupon of a campaign with its code: admins only, by their dashboard session."""
    campaign_id = request.path_params["campaign_id"]
    refusal = admin_or_refusal(request, "export coupons")
    if isinstance(refusal, Response):
        return refusal
    with session_scope() as session:
        if campaign_id > _MAX_ID or session.get(Campaign, campaign_id) is None:
            return Response("No such campaign.", status_code=404, media_type="text/plain")
        out = io.StringIO()
        export_coupons_csv(session, campaign_id, out)
    return Response(
        out.getvalue().encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="campaign-{campaign_id}-coupons.csv"',
            "Cache-Control": "no-store",
        },
    )


ROUTES.extend(
    [
        Route("/qr/{token}.png", qr_png_endpoint, methods=["GET"]),
        Route("/qr/{token}.svg", qr_svg_endpoint, methods=["GET"]),
        Route("/c/{token}", coupon_page, methods=["GET"]),
        Route("/api/campaigns/{campaign_id:int}/coupons.csv", export_csv, methods=["GET"]),
    ]
)
