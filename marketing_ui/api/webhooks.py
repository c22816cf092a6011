"""POST /webhooks/resend and /webhooks/twilio/{status,inbound}: signed provider callbacks.

Each handler reads the raw body under a size cap, checks the signature before parsing anything,
and applies the event in one transaction through marketing_ui.core.webhooks. Refusals are
4xx with a short message that never echoes the payload.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from marketing_ui.api.app import ROUTES
from marketing_ui.core.config import get_settings
from marketing_ui.core.db import session_scope
from marketing_ui.core.webhooks import (
    RESEND_PATH,
    TWILIO_INBOUND_PATH,
    TWILIO_STATUS_PATH,
    WebhookError,
    apply_resend_event,
    apply_twilio_inbound,
    apply_twilio_status,
    parse_form,
    twilio_public_url,
    twiml,
    verify_resend,
    verify_twilio,
)

MAX_BODY_BYTES = 256 * 1024
log = logging.getLogger(__name__)


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, refusing more than `limit` bytes (413) before or while it streams in."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit() or len(declared) > 12:
            raise WebhookError(400, "malformed Content-Length")
        if int(declared) > limit:
            raise WebhookError(413, "request body too large")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise WebhookError(413, "request body too large")
            chunks.append(chunk)
    except ClientDisconnect:
        raise WebhookError(400, "client disconnected") from None
    return b"".join(chunks)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _refuse(exc: WebhookError, xml: bool = False) -> Response:
    if xml:
        return Response(twiml(""), status_code=exc.status, media_type="text/xml")
    return JSONResponse({"error": str(exc)}, status_code=exc.status)


def _in_transaction(apply: Callable[..., str], payload: object) -> str:
    with session_scope() as session:
        return apply(session, payload)


async def resend_webhook(request: Request) -> Response:
    try:
        body = await read_body(request)
        if media_type(request) != "application/json":
            raise WebhookError(415, "expected application/json")
        event = verify_resend(body, request.headers, get_settings().resend_webhook_secret)
    except WebhookError as exc:
        return _refuse(exc)
    outcome = await run_in_threadpool(_in_transaction, apply_resend_event, event)
    log.info("resend webhook %s: %s", event.type or "?", outcome)
    return JSONResponse({"ok": True, "result": outcome})


async def _verified_twilio_form(request: Request) -> Mapping[str, str]:
    body = await read_body(request)
    if media_type(request) != "application/x-www-form-urlencoded":
        raise WebhookError(415, "expected application/x-www-form-urlencoded")
    form = parse_form(body)
    verify_twilio(
        twilio_public_url(request.url.path, request.url.query),
        form,
        request.headers.get("x-twilio-signature", ""),
        get_settings().twilio_auth_token,
    )
    return form


async def twilio_status(request: Request) -> Response:
    try:
        form = await _verified_twilio_form(request)
        outcome = await run_in_threadpool(_in_transaction, apply_twilio_status, form)
    except WebhookError as exc:
        return _refuse(exc, xml=True)
    log.info("twilio status callback: %s", outcome)
    return Response(twiml(""), media_type="text/xml")


async def twilio_inbound(request: Request) -> Response:
    try:
        form = await _verified_twilio_form(request)
        reply = await run_in_threadpool(_in_transaction, apply_twilio_inbound, form)
    except WebhookError as exc:
        return _refuse(exc, xml=True)
    return Response(twiml(reply), media_type="text/xml")


ROUTES.extend(
    [
        Route(RESEND_PATH, resend_webhook, methods=["POST"]),
        Route(TWILIO_STATUS_PATH, twilio_status, methods=["POST"]),
        Route(TWILIO_INBOUND_PATH, twilio_inbound, methods=["POST"]),
    ]
)
