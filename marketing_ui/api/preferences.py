"""The customer's preference page behind the signed unsubscribe link (/u/{token}).

GET shows the channels (email, SMS) with masked addresses, the birthday, "download my data" and
"erase me"; it changes nothing (mail scanners prefetch links). Every change is a POST: email off
goes to the unsubscribe endpoint (api/unsubscribe.py, also the RFC 8058 target); the rest to
/u/{token}/prefs, which records consent with source "preferences" and a proof hash of the
client's IP and user agent. The JSON download is a POST too, so no prefetch or proxy log ever
fetches it. Erasing takes two steps: GET /u/{token}/erase asks, POST with erase=confirm erases.
The token is the customer's own secret (it arrives in their inbox); a forged or edited token
gets a clear 400 page, a customer who is gone (or erased) a 404 page.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Callable
from html import escape
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from marketing_ui.api.app import ROUTES
from marketing_ui.api.session import request_ip
from marketing_ui.api.unsubscribe import (
    _form,
    _invalid_link,
    _lookup,
    _unknown_customer,
    page,
)
from marketing_ui.core import audit, customer_rights
from marketing_ui.core.app_settings import business_identity
from marketing_ui.core.clock import utcnow
from marketing_ui.core.customer_rights import PreferenceError, Preferences
from marketing_ui.core.customers import consent_proof_hash
from marketing_ui.core.db import session_scope
from marketing_ui.core.webhooks import WebhookError

ACTIONS = ("email_on", "sms_on", "sms_off", "all_off", "birthday", "birthday_clear")
CUSTOMER = audit.Actor(None, "customer (preference page)")
_DOWNLOAD_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
}


def _proof(request: Request) -> str:
    return consent_proof_hash(request_ip(request), request.headers.get("user-agent", ""))


# Drawing -----------------------------------------------------------------------------------


def _post(action: str, label: str, *, name: str, klass: str = "", fields: str = "") -> str:
    attr = f' class="{klass}"' if klass else ""
    return (
        f'<form method="post" action="{escape(action)}">{fields}'
        f'<button type="submit"{attr} id="{escape(name)}">{escape(label)}</button></form>'
    )


def _pref_button(token: str, action: str, label: str, klass: str = "secondary") -> str:
    hidden = f'<input type="hidden" name="action" value="{action}">'
    return _post(f"/u/{token}/prefs", label, name=action, klass=klass, fields=hidden)


def _birthday_form(token: str, prefs: Preferences, values: dict[str, str]) -> str:
    month = values.get("birthday_month", str(prefs.birthday_month or ""))
    day = values.get("birthday_day", str(prefs.birthday_day or ""))
    year = values.get("birthday_year", str(prefs.birthday_year or ""))
    options = '<option value="">Month</option>' + "".join(
        f'<option value="{m}"{" selected" if month == str(m) else ""}>{calendar.month_name[m]}'
        "</option>"
        for m in range(1, 13)
    )
    return (
        f'<form method="post" action="/u/{escape(token)}/prefs">'
        '<input type="hidden" name="action" value="birthday"><div class="fields">'
        f'<div><label for="birthday_month">Month</label><select id="birthday_month" '
        f'name="birthday_month">{options}</select></div>'
        f'<div><label for="birthday_day">Day</label><input id="birthday_day" name="birthday_day" '
        f'inputmode="numeric" maxlength="2" value="{escape(day[:2])}"></div>'
        f'<div><label for="birthday_year">Year (optional)</label><input id="birthday_year" '
        f'name="birthday_year" inputmode="numeric" maxlength="4" value="{escape(year[:4])}">'
        '</div></div><button type="submit" class="secondary" id="birthday">Save birthday</button>'
        "</form>"
    )


def _channel(
    title: str, has: bool, masked: str, on: bool, missing: str, on_text: str, off_text: str
) -> str:
    if not has:
        return f"<section><h2>{title}</h2><p>{escape(missing)}</p>"
    state = on_text if on else off_text
    return f"<section><h2>{title}</h2><p>{escape(masked)} · {escape(state)}</p>"


def _preferences_page(
    token: str,
    brand: str,
    prefs: Preferences,
    *,
    notice: str = "",
    error: str = "",
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    parts: list[str] = []
    if notice:
        parts.append(f'<p class="notice" role="status" id="notice">{escape(notice)}</p>')
    if error:
        parts.append(f'<p class="error" role="alert" id="error">{escape(error)}</p>')

    parts.append(
        _channel(
            "Email",
            prefs.has_email,
            prefs.email_masked,
            prefs.email_consent,
            "We have no email address for you.",
            "you get our emails",
            "you do not get our emails",
        )
    )
    if prefs.has_email:
        if prefs.email_consent:
            hidden = '<input type="hidden" name="confirm" value="1">'
            parts.append(
                _post(f"/u/{token}", "Unsubscribe from emails", name="confirm", fields=hidden)
            )
        else:
            parts.append(_pref_button(token, "email_on", "Resubscribe to emails"))
    parts.append("</section>")

    parts.append(
        _channel(
            "Text messages",
            prefs.has_phone,
            prefs.phone_masked,
            prefs.sms_consent,
            "We have no phone number for you.",
            "you get our texts",
            "you do not get our texts",
        )
    )
    if prefs.has_phone:
        if prefs.sms_consent:
            parts.append(_pref_button(token, "sms_off", "Stop text messages", klass=""))
        else:
            parts.append(_pref_button(token, "sms_on", "Get text messages"))
    parts.append("</section>")

    if prefs.email_consent and prefs.sms_consent:
        parts.append(
            "<section>"
            + _pref_button(token, "all_off", "Unsubscribe from everything")
            + "</section>"
        )

    parts.append(
        "<section><h2>Birthday</h2><p>Tell us and we may send you something on the day.</p>"
        + _birthday_form(token, prefs, values or {})
    )
    if prefs.birthday_month:
        parts.append(_pref_button(token, "birthday_clear", "Forget my birthday"))
    parts.append("</section>")

    parts.append(
        "<section><h2>Your data</h2><p>Get a copy of everything we keep about you, or have us "
        "erase it.</p>"
        + _post(f"/u/{token}/data", "Download my data", name="download", klass="secondary")
        + f'<p><a href="/u/{escape(token)}/erase" id="erase">Erase my data…</a></p></section>'
    )
    greeting = f"Hello {prefs.first_name}. " if prefs.first_name else ""
    return page(
        "Your preferences",
        f"{greeting}Choose what you hear from {brand}.",
        brand=brand,
        form="".join(parts),
        status=status,
    )


# Reading and writing ---------------------------------------------------------------------


def _load(customer_uid: str) -> tuple[str, Preferences | None]:
    with session_scope() as session:
        brand = business_identity(session).business_name
        return brand, customer_rights.preferences(session, customer_uid)


async def show(request: Request) -> Response:
    token = request.path_params["token"]
    parsed = _lookup(token)
    if parsed is None:
        return _invalid_link()
    brand, prefs = await run_in_threadpool(_load, parsed[0])
    if prefs is None:
        return _unknown_customer(brand)
    return _preferences_page(token, brand, prefs)


def _apply(
    customer_uid: str, campaign_id: int | None, fields: dict[str, str], proof: str
) -> tuple[str, Preferences | None, str]:
    """(brand, preferences after the change, notice); PreferenceError when refused."""
    action = fields.get("action", "")
    with session_scope() as session:
        brand = business_identity(session).business_name
        customer_id = customer_rights.customer_id_by_uid(session, customer_uid)
        if customer_id is None:
            return brand, None, ""
        changes: dict[str, Callable[[], Any]] = {
            "email_on": lambda: customer_rights.turn_on(session, customer_id, "email", proof),
            "sms_on": lambda: customer_rights.turn_on(session, customer_id, "sms", proof),
            "sms_off": lambda: customer_rights.turn_off(session, customer_uid, "sms", proof),
            "all_off": lambda: [
                customer_rights.turn_off(session, customer_uid, channel, proof, campaign_id)
                for channel in ("email", "sms")
            ],
            "birthday": lambda: customer_rights.set_birthday(
                session,
                customer_id,
                fields.get("birthday_month", ""),
                fields.get("birthday_day", ""),
                fields.get("birthday_year", ""),
            ),
            "birthday_clear": lambda: customer_rights.set_birthday(
                session, customer_id, None, None, None
            ),
        }
        changes[action]()
        notices = {
            "email_on": f"You will get emails from {brand} again.",
            "sms_on": f"You will get text messages from {brand}.",
            "sms_off": "You will not get our text messages any more.",
            "all_off": f"You will not hear from {brand} any more.",
            "birthday": "Your birthday is saved.",
            "birthday_clear": "We forgot your birthday.",
        }
        return brand, customer_rights.preferences(session, customer_uid), notices[action]


async def change(request: Request) -> Response:
    token = request.path_params["token"]
    parsed = _lookup(token)
    try:
        fields = await _form(request)
    except WebhookError as exc:
        return PlainTextResponse(str(exc), status_code=exc.status)
    except Exception:  # noqa: BLE001 - the multipart parser raises several types on garbage
        return PlainTextResponse("malformed form", status_code=400)
    if parsed is None:
        return _invalid_link()
    if fields.get("action") not in ACTIONS:
        return PlainTextResponse(
            "Unknown change: use one of the buttons on the preference page.", status_code=400
        )
    try:
        brand, prefs, notice = await run_in_threadpool(_apply, *parsed, fields, _proof(request))
    except PreferenceError as exc:
        brand, prefs = await run_in_threadpool(_load, parsed[0])
        if prefs is None:
            return _unknown_customer(brand)
        typed = {k: v for k, v in fields.items() if k.startswith("birthday_")}
        return _preferences_page(token, brand, prefs, error=str(exc), values=typed, status=400)
    except LookupError:  # erased between the lookup and the change
        return _unknown_customer("")
    if prefs is None:
        return _unknown_customer(brand)
    return _preferences_page(token, brand, prefs, notice=notice)


def _export(customer_uid: str) -> dict[str, Any] | None:
    with session_scope() as session:
        customer_id = customer_rights.customer_id_by_uid(session, customer_uid)
        if customer_id is None:
            return None
        return customer_rights.export_data(session, customer_id)


async def download(request: Request) -> Response:
    token = request.path_params["token"]
    parsed = _lookup(token)
    try:
        await _form(request)
    except WebhookError as exc:
        return PlainTextResponse(str(exc), status_code=exc.status)
    except Exception:  # noqa: BLE001 - see change()
        return PlainTextResponse("malformed form", status_code=400)
    if parsed is None:
        return _invalid_link()
    data = await run_in_threadpool(_export, parsed[0])
    if data is None:
        return _unknown_customer("")
    body = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
    name = f"my-data-{utcnow():%Y-%m-%d}.json"
    return Response(
        body,
        media_type="application/json; charset=utf-8",
        headers={**_DOWNLOAD_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


async def ask_erase(request: Request) -> Response:
    token = request.path_params["token"]
    parsed = _lookup(token)
    if parsed is None:
        return _invalid_link()
    brand, prefs = await run_in_threadpool(_load, parsed[0])
    if prefs is None:
        return _unknown_customer(brand)
    hidden = '<input type="hidden" name="erase" value="confirm">'
    form = (
        _post(
            f"/u/{token}/erase",
            "Yes, erase my data",
            name="erase-confirm",
            klass="danger",
            fields=hidden,
        )
        + f'<p><a href="/u/{escape(token)}" id="keep">No, keep my data</a></p>'
    )
    return page(
        "Erase your data?",
        f"{brand} will delete your name, email address, phone number and birthday, and you "
        "will get no more messages from us. This cannot be undone. Want a copy first? Go back "
        "and press Download my data.",
        brand=brand,
        form=form,
    )


def _erase(customer_uid: str, proof: str) -> str | None:
    with session_scope() as session, audit.acting_as(CUSTOMER):
        brand = business_identity(session).business_name
        customer_id = customer_rights.customer_id_by_uid(session, customer_uid)
        if customer_id is None:
            return None
        customer_rights.erase(session, customer_id, requested_by="customer", proof_hash=proof)
        return brand


async def erase(request: Request) -> Response:
    token = request.path_params["token"]
    parsed = _lookup(token)
    try:
        fields = await _form(request)
    except WebhookError as exc:
        return PlainTextResponse(str(exc), status_code=exc.status)
    except Exception:  # noqa: BLE001 - see change()
        return PlainTextResponse("malformed form", status_code=400)
    if parsed is None:
        return _invalid_link()
    if fields.get("erase") != "confirm":
        return PlainTextResponse(
            "Erasing needs the confirmation button on the erase page.", status_code=400
        )
    brand = await run_in_threadpool(_erase, parsed[0], _proof(request))
    if brand is None:
        return _unknown_customer("")
    return page(
        "Your data is erased",
        f"{brand} no longer has your name, contact details or birthday, and will not message "
        "you again. Links in our earlier messages no longer lead to you.",
        brand=brand,
    )


ROUTES.extend(
    [
        Route("/u/{token}", show, methods=["GET"]),
        Route("/u/{token}/prefs", change, methods=["POST"]),
        Route("/u/{token}/data", download, methods=["POST"]),
        Route("/u/{token}/erase", ask_erase, methods=["GET"]),
        Route("/u/{token}/erase", erase, methods=["POST"]),
    ]
)
