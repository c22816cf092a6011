"""Logging in and out over plain HTTP, so the session cookie can be HttpOnly; who a request is.

POST /auth/login   form: username, password, next  -> 303 to `next` with the cookie, or back to
                   the login page with an error code
POST /auth/logout  ends the session named by the cookie and clears it -> 303 to the login page

Both answer only form posts whose Origin (or Referer) is this site, so another site cannot log a
browser in or out. The cookie is HttpOnly and SameSite=Strict, and Secure in production.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from marketing_ui.api.app import ROUTES
from marketing_ui.core import auth
from marketing_ui.core.auth import SESSION_COOKIE, STAFF_HOME, CurrentUser, safe_next
from marketing_ui.core.client_ip import client_ip
from marketing_ui.core.config import get_settings
from marketing_ui.core.db import session_scope
from marketing_ui.core.redis_client import get_redis

MAX_FORM_BYTES = 4096
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}


def request_user(request: Request) -> CurrentUser | None:
    """The dashboard user behind a request's session cookie, or None."""
    return auth.sessions.user(request.cookies.get(SESSION_COOKIE, ""))


def admin_or_refusal(request: Request, what: str) -> CurrentUser | Response:
    """The admin making a request, or the 401/403 answer naming `what` they tried to do."""
    user = request_user(request)
    if user is None:
        return PlainTextResponse(f"Log in to {what}.", status_code=401)
    if not user.is_admin:
        return PlainTextResponse(f"Only admins can {what}.", status_code=403)
    return user


def request_ip(request: Request) -> str:
    """The client's address, believing X-Forwarded-For only from TRUSTED_PROXY_HOPS proxies."""
    peer = request.client.host if request.client else "unknown"
    return client_ip(peer, request.headers.get("x-forwarded-for"))


def _site_origin(request: Request) -> str | None:
    """The page origin a form was posted from, if it is this site; else None.

    This site is the public base URL, the host the request was sent to (one port in
    production) or, in development, the frontend on another port of the same loopback host.
    """
    raw = request.headers.get("origin") or request.headers.get("referer") or ""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    origin = f"{parts.scheme}://{parts.netloc}"
    allowed = {get_settings().public_base_url.rstrip("/")}
    host = request.headers.get("host", "")
    allowed.add(f"{request.url.scheme}://{host}")
    if origin in allowed:
        return origin
    if not get_settings().is_production and parts.hostname in LOOPBACK_HOSTS:
        return origin  # development: frontend and backend are two ports of one loopback host
    return None


def _back_to_login(origin: str, next_path: str, **query: str) -> RedirectResponse:
    params = {"next": next_path, **query} if next_path != "/" else query
    suffix = f"?{urlencode(params)}" if params else ""
    return RedirectResponse(f"{origin}/login{suffix}", status_code=303)


def _set_cookie(response: Response, token: str) -> None:
    settings = get_settings()
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_hours * 3600,
        path="/",
        httponly=True,
        samesite="strict",
        secure=settings.is_production,
    )


async def _form(request: Request) -> dict[str, str] | None:
    """The posted fields, or None when the body is too big or not a form."""
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return None
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        return None
    return {key: values[0] for key, values in fields.items()}


def _login(username: str, password: str, ip: str) -> tuple[str, CurrentUser | None]:
    with session_scope() as session:
        token = auth.login(session, get_redis(), username, password, ip)
    return token, auth.sessions.user(token)


async def login(request: Request) -> Response:
    origin = _site_origin(request)
    if origin is None:
        return PlainTextResponse(
            "Log in from this site's login page (the form came from elsewhere).", status_code=403
        )
    form = await _form(request)
    if form is None:
        return PlainTextResponse("The login form could not be read.", status_code=400)
    next_path = safe_next(form.get("next", ""))
    username, password = form.get("username", "")[:200], form.get("password", "")[:1000]
    if not username.strip() or not password:
        return _back_to_login(origin, next_path, error="missing")
    try:  # argon2 takes tens of milliseconds: keep it off the event loop
        token, user = await asyncio.to_thread(_login, username, password, request_ip(request))
    except auth.AuthError as exc:
        if exc.retry_after:
            return _back_to_login(origin, next_path, error="limited", wait=str(exc.retry_after))
        return _back_to_login(origin, next_path, error="invalid")
    home = "/" if user is not None and user.is_admin else STAFF_HOME
    target = next_path if next_path != "/" else home
    response = RedirectResponse(f"{origin}{target}", status_code=303)
    _set_cookie(response, token)
    response.headers["Cache-Control"] = "no-store"
    return response


def _logout(token: str) -> None:
    with session_scope() as session:
        auth.logout(session, token)


async def logout(request: Request) -> Response:
    origin = _site_origin(request)
    if origin is None:
        return PlainTextResponse("Log out from this site's pages.", status_code=403)
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        await asyncio.to_thread(_logout, token[:200])
    response = RedirectResponse(f"{origin}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    response.headers["Cache-Control"] = "no-store"
    return response


ROUTES.extend(
    [
        Route("/auth/login", login, methods=["POST"]),
        Route("/auth/logout", logout, methods=["POST"]),
    ]
)
