"""/join: the public signup page, its POST (also from the embeddable form), and the confirm link.

GET /join?src=…            the form (mobile first, business name and logo, the exact consent text)
POST /join                 check, record, send the confirmation; "check your inbox / phone"
OPTIONS /join              CORS preflight: answered only for origins listed in Settings
GET /join/confirm/{token}  a page with a Confirm button (link scanners GET; a GET changes nothing)
POST /join/confirm/{token} confirms: consent granted with its proof

Cross-origin posts come only from the origins listed in Settings (403 otherwise); same-origin
posts always pass. No CSRF token: the form is public, so the honeypot and the per-IP brake do
that work. The answer to a valid signup is the same page whether or not the address is known.
"""

from __future__ import annotations

import logging
from html import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from marketing_ui.api.app import ROUTES
from marketing_ui.api.session import request_ip
from marketing_ui.api.unsubscribe import _STYLE
from marketing_ui.api.webhooks import media_type, read_body
from marketing_ui.core import signup
from marketing_ui.core.app_settings import business_identity, signup_settings
from marketing_ui.core.config import get_settings
from marketing_ui.core.customers import CustomerError
from marketing_ui.core.db import session_scope
from marketing_ui.core.images import MEDIA_PATH
from marketing_ui.core.signup import Outcome, SignupForm
from marketing_ui.core.signup_limits import SignupLimits, signup_limiter
from marketing_ui.core.webhooks import WebhookError, parse_form

log = logging.getLogger(__name__)

MAX_FORM_BYTES = 8 * 1024
LIMITS = SignupLimits()  # the brakes this process applies (tests lower them)
HONEYPOT = "website"
_CHECKED = ("1", "on", "yes", "true")

_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}
# The form page keeps the origin in the Referer/Origin of its POST ("no-referrer" would make
# browsers send `Origin: null`); the confirm page hides its token from any later request.
_FORM_HEADERS = {**_HEADERS, "Referrer-Policy": "same-origin"}
_TOKEN_HEADERS = {**_HEADERS, "Referrer-Policy": "no-referrer"}

_FORM_STYLE = """
label{display:block;margin:0 0 .9rem;font-weight:600;font-size:.95rem}
input[type=text],input[type=email],input[type=tel],input[type=number],select{display:block;
width:100%;box-sizing:border-box;margin-top:.3rem;padding:.7rem .75rem;font-size:1rem;
border:1px solid #d4d4d8;border-radius:8px;background:#fff}
.row{display:flex;gap:.5rem}.row label{flex:1}
.check{display:flex;gap:.6rem;align-items:flex-start;font-weight:400;color:#3f3f46;
font-size:.9rem}
.check input{margin-top:.25rem;width:1.2rem;height:1.2rem;flex:none}
.hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}
.error{background:#fef2f2;color:#991b1b;border-radius:8px;padding:.75rem;margin:0 0 1rem}
.logo{display:block;max-height:64px;max-width:60%;margin:0 0 .5rem}
a{color:#18181b}
"""


def _page(
    title: str,
    body_html: str,
    *,
    brand: str = "",
    logo: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """A small self-contained page (inline CSS, no scripts) that reads well on a phone."""
    top = ""
    if logo:
        top += f'<img class="logo" src="{escape(MEDIA_PATH)}/{escape(logo)}" alt="">'
    if brand:
        top += f'<p class="brand">{escape(brand)}</p>'
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}{_FORM_STYLE}</style></head><body><main>"
        f"{top}<h1>{escape(title)}</h1>{body_html}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=headers or _TOKEN_HEADERS)


# The form -------------------------------------------------------------------------------


def _form_context() -> dict[str, str]:
    with session_scope() as session:
        business = business_identity(session)
        return {
            "brand": business.business_name,
            "logo": business.logo,
            "email_text": signup.consent_text(session, "email"),
            "sms_text": signup.consent_text(session, "sms"),
        }


def _input(name: str, label: str, kind: str, value: str, extra: str = "") -> str:
    return (
        f'<label for="{name}">{escape(label)}<input type="{kind}" id="{name}" name="{name}" '
        f'value="{escape(value)}"{extra}></label>'
    )


def _form_html(ctx: dict[str, str], form: SignupForm, error: str = "") -> str:
    months = "".join(
        f'<option value="{m}"{" selected" if form.birthday_month == str(m) else ""}>{name}</option>'
        for m, name in enumerate(
            ["January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December"], start=1,
        )
    )  # fmt: skip
    checked = {True: " checked", False: ""}
    return (
        (f'<p class="error" role="alert" id="error">{escape(error)}</p>' if error else "")
        + f'<form method="post" action="{signup.JOIN_PATH}" novalidate>'
        f'<input type="hidden" name="src" value="{escape(form.origin)}">'
        + _input(
            "first_name",
            "First name",
            "text",
            form.first_name,
            ' autocomplete="given-name" maxlength="120" required',
        )
        + _input("email", "Email", "email", form.email, ' autocomplete="email" maxlength="254"')
        + _input("phone", "Mobile number", "tel", form.phone, ' autocomplete="tel" maxlength="32"')
        + '<div class="row"><label for="birthday_month">Birthday (optional)'
        '<select id="birthday_month" name="birthday_month"><option value="">Month</option>'
        f"{months}</select></label>"
        + _input(
            "birthday_day",
            "Day",
            "number",
            form.birthday_day,
            ' min="1" max="31" inputmode="numeric"',
        )
        + "</div>"
        f'<label class="check"><input type="checkbox" id="email_opt_in" name="email_opt_in" '
        f'value="1"{checked[form.email_opt_in]}><span>{escape(ctx["email_text"])}</span></label>'
        f'<label class="check"><input type="checkbox" id="sms_opt_in" name="sms_opt_in" '
        f'value="1"{checked[form.sms_opt_in]}><span>{escape(ctx["sms_text"])}</span></label>'
        f'<div class="hp" aria-hidden="true"><label for="{HONEYPOT}">Leave this empty'
        f'<input type="text" id="{HONEYPOT}" name="{HONEYPOT}" tabindex="-1" autocomplete="off">'
        "</label></div>"
        '<button type="submit" id="join">Sign me up</button></form>'
    )


def _join_page(form: SignupForm, error: str = "", status: int = 200) -> Response:
    ctx = _form_context()
    return _page(
        f"Join {ctx['brand']}",
        "<p>Offers and news, only if you confirm. We never share your details.</p>"
        + _form_html(ctx, form, error),
        brand="",
        logo=ctx["logo"],
        status=status,
        headers=_FORM_HEADERS,
    )


async def join_form(request: Request) -> Response:
    src = request.query_params.get("src", "")[:200]
    form = SignupForm(origin=signup.clean_origin(src), email_opt_in=True)
    return await run_in_threadpool(_join_page, form)


# CORS -----------------------------------------------------------------------------------


def _own_origins(request: Request) -> set[str]:
    """This site's origins: the public URL, and the one the request came to."""
    own = {get_settings().api_base_url.rstrip("/").lower()}
    host = request.headers.get("host", "")
    if host:
        own.add(f"{request.url.scheme}://{host}".lower())
    return own


def _allowed_origins() -> list[str]:
    with session_scope() as session:
        return signup_settings(session).origins()


async def _cross_origin(request: Request) -> tuple[str | None, bool]:
    """(the Origin header when it is another site, whether that site may post here)."""
    origin = request.headers.get("origin")
    if origin is None or origin.lower().rstrip("/") in _own_origins(request):
        return None, True
    allowed = await run_in_threadpool(_allowed_origins)
    return origin, origin.lower().rstrip("/") in allowed


def _cors_headers(origin: str | None) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin else {}


async def preflight(request: Request) -> Response:
    origin, allowed = await _cross_origin(request)
    if origin is None or not allowed:
        return PlainTextResponse(
            "This website may not post to the signup form.",
            status_code=403,
            headers={"Vary": "Origin"},
        )
    return Response(
        status_code=204,
        headers={
            **_cors_headers(origin),
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "600",
        },
    )


# POST /join -----------------------------------------------------------------------------


def _signup_form(fields: dict[str, str]) -> SignupForm:
    return SignupForm(
        first_name=fields.get("first_name", ""),
        email=fields.get("email", ""),
        phone=fields.get("phone", ""),
        email_opt_in=fields.get("email_opt_in", "").lower() in _CHECKED,
        sms_opt_in=fields.get("sms_opt_in", "").lower() in _CHECKED,
        birthday_month=fields.get("birthday_month", ""),
        birthday_day=fields.get("birthday_day", ""),
        birthday_year=fields.get("birthday_year", ""),
        origin=signup.clean_origin(fields.get("src", "")),
        website=fields.get(HONEYPOT, ""),
    )


def _check_page(channels: list[str], extra: dict[str, str]) -> Response:
    with session_scope() as session:
        business = business_identity(session)
    where = {
        ("email",): ("Check your inbox", "We sent you an email with a link. Open it and press "
                     "Confirm to subscribe."),
        ("sms",): ("Check your phone", "We sent you a text. Reply YES to subscribe."),
        ("email", "sms"): ("Check your inbox and your phone", "We sent you an email with a link "
                           "and a text. Confirm each channel you want: press Confirm in the "
                           "email, reply YES to the text."),
    }[tuple(channels)]  # fmt: skip
    body = (
        f"<p>{escape(where[1])}</p><p>Nothing is subscribed until you confirm. Not there in a "
        "few minutes? Check your spam folder, or sign up again.</p>"
    )
    return _page(
        where[0],
        body,
        brand=business.business_name,
        logo=business.logo,
        headers={**_FORM_HEADERS, **extra},
    )


async def join(request: Request) -> Response:
    origin, allowed = await _cross_origin(request)
    if not allowed:
        return PlainTextResponse(
            "This website may not post to the signup form.",
            status_code=403,
            headers={"Vary": "Origin"},
        )
    cors = _cors_headers(origin)
    try:
        if media_type(request) != "application/x-www-form-urlencoded":
            raise WebhookError(415, "expected a form (application/x-www-form-urlencoded)")
        fields = parse_form(await read_body(request, MAX_FORM_BYTES))
    except WebhookError as exc:
        return PlainTextResponse(str(exc), status_code=exc.status, headers=cors)
    user_agent = request.headers.get("user-agent", "")[:512]
    return await run_in_threadpool(_handle, fields, request_ip(request), user_agent, cors)


def _handle(fields: dict[str, str], ip: str, user_agent: str, cors: dict[str, str]) -> Response:
    """Brake, honeypot, check, record and answer: one worker thread per request, no hops."""
    limiter = signup_limiter(LIMITS)
    decision = limiter.attempt(ip)
    if not decision.allowed:
        return _page(
            "Please wait a moment",
            f"<p>{escape(decision.message)}</p>",
            status=429,
            headers={**_FORM_HEADERS, **cors, "Retry-After": str(decision.retry_after_s)},
        )
    form = _signup_form(fields)
    if form.website.strip():  # a bot filled the honeypot: the usual answer, nothing stored
        channels = [c for c, on in (("email", form.email_opt_in), ("sms", form.sms_opt_in)) if on]
        return _check_page(channels or ["email"], cors)
    try:
        checked = signup.validate_signup(form)
    except CustomerError as exc:
        response = _join_page(form, str(exc), 400)
        response.headers.update(cors)
        return response
    with session_scope() as session:
        signup.submit(
            session, checked, ip=ip, user_agent=user_agent, may_message=limiter.may_message
        )
    return _check_page(checked.channels, cors)


# Confirm --------------------------------------------------------------------------------


def _brand() -> tuple[str, str]:
    with session_scope() as session:
        business = business_identity(session)
        return business.business_name, business.logo


def _outcome_page(outcome: Outcome, token: str, brand: str, logo: str) -> Response:
    again = f'<p><a href="{signup.JOIN_PATH}">Sign up again</a></p>'
    match outcome:
        case Outcome.INVALID:
            return _page(
                "This link is not valid",
                "<p>The confirmation link is incomplete or has been changed. Please use the "
                "link in the latest email we sent you.</p>" + again,
                brand=brand,
                logo=logo,
                status=400,
            )
        case Outcome.EXPIRED:
            return _page(
                "This link has expired",
                "<p>Confirmation links work for a limited time, and this one is too old. "
                "Nothing was subscribed. Sign up again and use the new link.</p>" + again,
                brand=brand,
                logo=logo,
                status=410,
            )
        case Outcome.ALREADY:
            return _page(
                "You are already confirmed",
                f"<p>This link was used before: you are on the list of {escape(brand)}. "
                "There is nothing more to do.</p>",
                brand=brand,
                logo=logo,
            )
    return _page(
        "Confirm your subscription",
        f"<p>Press the button to get emails from {escape(brand)}.</p>"
        f'<form method="post" action="{signup.CONFIRM_PATH}/{escape(token)}">'
        '<input type="hidden" name="confirm" value="1">'
        '<button type="submit" id="confirm">Confirm my subscription</button></form>',
        brand=brand,
        logo=logo,
    )


def _check(token: str) -> tuple[Outcome, str, str]:
    with session_scope() as session:
        outcome = signup.check_link(session, token)
        business = business_identity(session)
        return outcome, business.business_name, business.logo


async def confirm_page(request: Request) -> Response:
    token = request.path_params["token"]
    outcome, brand, logo = await run_in_threadpool(_check, token)
    return _outcome_page(outcome, token, brand, logo)


def _confirm(token: str, ip: str, user_agent: str) -> tuple[Outcome, str, str]:
    with session_scope() as session:
        outcome = signup.confirm_link(session, token, ip=ip, user_agent=user_agent)
        business = business_identity(session)
        return outcome, business.business_name, business.logo


async def confirm(request: Request) -> Response:
    token = request.path_params["token"]
    try:
        if media_type(request) != "application/x-www-form-urlencoded":
            raise WebhookError(415, "expected a form (application/x-www-form-urlencoded)")
        fields = parse_form(await read_body(request, 1024))
    except WebhookError as exc:
        return PlainTextResponse(str(exc), status_code=exc.status)
    if fields.get("confirm") != "1":
        return PlainTextResponse("expected confirm=1", status_code=400)
    ip = request_ip(request)
    user_agent = request.headers.get("user-agent", "")[:512]
    outcome, brand, logo = await run_in_threadpool(_confirm, token, ip, user_agent)
    if outcome != Outcome.CONFIRMED:
        return _outcome_page(outcome, token, brand, logo)
    return _page(
        "You are subscribed",
        f"<p>Thank you! You will get news and offers from {escape(brand)} by email. Every "
        "email has a link to unsubscribe.</p>",
        brand=brand,
        logo=logo,
    )


ROUTES.extend(
    [
        Route(signup.JOIN_PATH, join_form, methods=["GET"]),
        Route(signup.JOIN_PATH, join, methods=["POST"]),
        Route(signup.JOIN_PATH, preflight, methods=["OPTIONS"]),
        Route(signup.CONFIRM_PATH + "/{token}", confirm_page, methods=["GET"]),
        Route(signup.CONFIRM_PATH + "/{token}", confirm, methods=["POST"]),
    ]
)
