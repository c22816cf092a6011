"""Reflex's `/_upload` endpoint, guarded before Reflex reads a byte of the body.

Reflex accepts a POST to `/_upload` naming any event handler and parses the whole multipart
body first. Here, in front of it: the handler must exist and take files, the session must be
allowed to call it (its declared audience), and the declared Content-Length must be within the
handler's `@upload_limit` (a body longer than its Content-Length cannot reach the app: the HTTP
server refuses it). Reflex's GET `/_upload/<file>` (files in its upload folder, public) is closed:
nothing of ours is stored there.
"""

from __future__ import annotations

from reflex_base.config import get_config
from reflex_base.event import resolve_upload_handler_param
from reflex_base.registry import RegistrationContext
from reflex_base.utils.exceptions import UploadTypeError, UploadValueError
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from marketing_ui.core.auth import SESSION_COOKIE, CurrentUser, sessions, token_from_cookie_header
from marketing_ui.state.access import allows, audience_of, upload_limit_of

MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file bytes


def _socket_user(request: Request) -> CurrentUser | None:
    """The user of the websocket the upload's client token belongs to.

    In development the page and the backend are two ports, so the browser's upload request
    carries no cookie; the page's own websocket connection does.
    """
    token = request.headers.get("reflex-client-token", "")
    app = RegistrationContext.get().app
    namespace = app.event_namespace if app is not None else None
    if not token or namespace is None:
        return None
    sid = namespace.token_to_sid.get(token)
    static = namespace._static_router_data.get(sid or "", {})
    cookie = (static.get("headers") or {}).get("cookie", "")
    return sessions.user(token_from_cookie_header(cookie))


def _refusal(request: Request) -> PlainTextResponse | None:
    name = request.headers.get("reflex-event-handler", "")
    registered = RegistrationContext.get().event_handlers.get(name)
    if registered is None:
        return PlainTextResponse("Unknown upload handler.", status_code=400)
    try:
        resolve_upload_handler_param(registered.handler)
    except (UploadValueError, UploadTypeError):
        return PlainTextResponse("That handler does not take uploads.", status_code=400)
    fn = registered.handler.fn
    user = sessions.user(request.cookies.get(SESSION_COOKIE, "")) or _socket_user(request)
    if not allows(audience_of(fn), user):
        status = 401 if user is None else 403
        return PlainTextResponse("Not allowed to upload here.", status_code=status)
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        return PlainTextResponse("Uploads need a Content-Length.", status_code=411)
    limit = upload_limit_of(fn)
    if int(length) > limit + MULTIPART_OVERHEAD:
        return PlainTextResponse(
            f"The upload is larger than {limit // (1024 * 1024)} MB.", status_code=413
        )
    return None


def guard_uploads(app: ASGIApp) -> ASGIApp:
    """ASGI wrapper for the whole backend (an `api_transformer`)."""
    upload_path = get_config().prepend_backend_path("/_upload")

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == upload_path or path.startswith(upload_path + "/")):
            request = Request(scope)
            if path != upload_path or scope.get("method") != "POST":
                refusal: PlainTextResponse | None = PlainTextResponse("Not found.", 404)
            else:
                refusal = _refusal(request)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await app(scope, receive, send)

    return guarded
