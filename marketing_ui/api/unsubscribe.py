"""/u/{token}: the unsubscribe link every email carries, and its RFC 8058 one-click POST.

GET shows the customer's preference page (api/preferences.py; mail scanners prefetch links,
so a GET must change nothing), whose email button posts here.
POST with `List-Unsubscribe=One-Click` is the mailbox provider's one-click request and answers
with no page; POST from the page's button unsubscribes and offers a resubscribe button. Both take
effect immediately: consent off, history recorded, queued emails to the customer skipped.
"""

from __future__ import annotations

from html import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from marketing_ui.api.app import ROUTES
from marketing_ui.api.session import request_ip
from marketing_ui.api.webhooks import media_type, read_body
from marketing_ui.core.app_settings import business_identity
from marketing_ui.core.customers import consent_proof_hash
from marketing_ui.core.db import session_scope
from marketing_ui.core.events import resubscribe, unsubscribe
from marketing_ui.core.tracking import parse_unsubscribe_token
from marketing_ui.core.webhooks import WebhookError, parse_form

MAX_FORM_BYTES = 4096
ONE_CLICK = ("List-Unsubscribe", "One-Click")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "X-Robots-Tag": "noindex",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}

_STYLE = """
body{margin:0;background:#f4f4f5;font:16px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",
Roboto,Helvetica,Arial,sans-serif;color:#18181b}
main{max-width:28rem;margin:12vh auto 0;padding:2rem 1.5rem;background:#fff;border-radius:12px;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
@media(max-width:32rem){main{margin:0;border-radius:0;min-height:100vh;box-sizing:border-box}}
.brand{font-size:.85rem;letter-spacing:.04em;text-transform:uppercase;color:#71717a;margin:0}
h1{font-size:1.4rem;margin:.5rem 0 1rem}
p{margin:0 0 1.25rem;color:#3f3f46}
button{width:100%;padding:.85rem 1rem;font-size:1rem;font-weight:600;border:0;
border-radius:8px;cursor:pointer;background:#18181b;color:#fff}
button.secondary{background:#fff;color:#18181b;border:1px solid #d4d4d8}
button.danger{background:#b91c1c}
section{border-top:1px solid #e4e4e7;padding:1rem 0 .25rem}
h2{font-size:1.05rem;margin:0 0 .35rem}
section p{margin:0 0 .75rem}
form{margin:0 0 .6rem}
label{display:block;font-size:.85rem;color:#52525b;margin:0 0 .2rem}
input,select{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;border:1px solid #d4d4d8;
border-radius:8px;background:#fff;color:#18181b}
.fields{display:grid;grid-template-columns:2fr 1fr 1.3fr;gap:.5rem;margin:0 0 .6rem}
.notice{padding:.6rem .8rem;border-radius:8px;background:#ecfdf5;color:#065f46}
.error{padding:.6rem .8rem;border-radius:8px;background:#fef2f2;color:#991b1b}
a{color:#18181b}
"""


def page(
    title: str, message: str, *, brand: str = "", form: str = "", status: int = 200
) -> Response:
    """A small self-contained page (inline CSS, no scripts) that reads well on a phone."""
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>"
        + (f'<p class="brand">{escape(brand)}</p>' if brand else "")
        + f"<h1>{escape(title)}</h1><p>{escape(message)}</p>{form}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=_PAGE_HEADERS)


def _button_form(action: str, label: str, *, secondary: bool = False, field: str = "") -> str:
    klass = ' class="secondary"' if secondary else ""
    hidden = f'<input type="hidden" name="{field}" value="1">' if field else ""
    return (
        f'<form method="post" action="{escape(action)}">{hidden}'
        f'<button type="submit"{klass} id="{escape(field or "submit")}">{escape(label)}</button>'
        "</form>"
    )


def _preferences_link(token: str) -> str:
    return f'<p><a href="/u/{escape(token)}" id="preferences">All your preferences</a></p>'


def _invalid_link() -> Response:
    return page(
        "This link is not valid",
        "The unsubscribe link is incomplete or has been changed. Please use the link from "
        "the latest email you received, or reply to that email and we will remove you.",
        status=400,
    )


def _unknown_customer(brand: str) -> Response:
    return page(
        "We could not find your subscription",
        "This address is no longer on our list, so you will not receive our emails.",
        brand=brand,
        status=404,
    )


def _lookup(token: str) -> tuple[str, int | None] | None:
    if len(token) > 200 or not token.isascii():  # compare_digest refuses non-ASCII
        return None
    return parse_unsubscribe_token(token)


def _proof(request: Request) -> str:
    """Who clicked (a keyed hash of IP and user agent, kept with the consent change)."""
    return consent_proof_hash(request_ip(request), request.headers.get("user-agent", ""))


def _unsubscribe(customer_uid: str, campaign_id: int | None, note: str, proof: str) -> str | None:
    with session_scope() as session:
        outcome = unsubscribe(session, customer_uid, campaign_id, note=note, proof_hash=proof)
        return business_identity(session).business_name if outcome else None


def _resubscribe(customer_uid: str, campaign_id: int | None, proof: str) -> str | None:
    with session_scope() as session:
        changed = resubscribe(session, customer_uid, campaign_id, proof_hash=proof)
        return business_identity(session).business_name if changed is not None else None


async def _form(request: Request) -> dict[str, str]:
    """The POSTed fields (urlencoded, or multipart as some mail providers send RFC 8058)."""
    kind = media_type(request)
    if kind not in _FORM_TYPES:
        raise WebhookError(415, "expected a form")
    if kind == "multipart/form-data":
        body = await read_body(request, MAX_FORM_BYTES)
        fields: dict[str, str] = {}
        async with Request({**request.scope}, _replay(body)).form(
            max_files=0, max_fields=10, max_part_size=MAX_FORM_BYTES
        ) as form:
            for name, value in form.multi_items():
                if isinstance(value, str):
                    fields[name] = value
        return fields
    return parse_form(await read_body(request, MAX_FORM_BYTES))


def _replay(body: bytes):  # noqa: ANN202 - an ASGI receive callable
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def confirm(request: Request) -> Response:
    parsed = _lookup(request.path_params["token"])
    try:
        fields = await _form(request)
    except WebhookError as exc:
        return PlainTextResponse(str(exc), status_code=exc.status)
    except Exception:  # noqa: BLE001 - the multipart parser raises several types on garbage
        return PlainTextResponse("malformed form", status_code=400)
    if parsed is None:
        return _invalid_link()
    one_click = fields.get(ONE_CLICK[0]) == ONE_CLICK[1]
    if not one_click and fields.get("confirm") != "1":
        return PlainTextResponse("expected List-Unsubscribe=One-Click", status_code=400)
    note = "one-click (RFC 8058)" if one_click else "confirmation page"
    if parsed[1]:
        note += f", campaign #{parsed[1]}"
    brand = await run_in_threadpool(_unsubscribe, parsed[0], parsed[1], note, _proof(request))
    if one_click:
        # RFC 8058: the mailbox provider posts in the background; no page, just success.
        return PlainTextResponse(
            "Unsubscribed" if brand else "Not subscribed", headers={"Cache-Control": "no-store"}
        )
    if brand is None:
        return _unknown_customer("")
    return page(
        "You are unsubscribed",
        f"You will not receive marketing emails from {brand} any more. "
        "Changed your mind? You can resubscribe below.",
        brand=brand,
        form=_button_form(
            f"/u/{request.path_params['token']}/resubscribe",
            "Resubscribe",
            secondary=True,
            field="resubscribe",
        )
        + _preferences_link(request.path_params["token"]),
    )


async def resubscribe_endpoint(request: Request) -> Response:
    token = request.path_params["token"]
    parsed = _lookup(token)
    try:
        await _form(request)
    except WebhookError as exc:
        return PlainTextResponse(str(exc), status_code=exc.status)
    except Exception:  # noqa: BLE001 - see confirm()
        return PlainTextResponse("malformed form", status_code=400)
    if parsed is None:
        return _invalid_link()
    brand = await run_in_threadpool(_resubscribe, parsed[0], parsed[1], _proof(request))
    if brand is None:
        return _unknown_customer("")
    return page(
        "Welcome back",
        f"You are subscribed to emails from {brand} again.",
        brand=brand,
        form=_button_form(f"/u/{token}", "Unsubscribe", secondary=True, field="confirm")
        + _preferences_link(token),
    )


ROUTES.extend(
    [
        Route("/u/{token}", confirm, methods=["POST"]),
        Route("/u/{token}/resubscribe", resubscribe_endpoint, methods=["POST"]),
    ]
)
