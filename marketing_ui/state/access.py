"""Who may call each State event handler: declared beside the handler, enforced for every event.

Reflex lets any connected client call any event handler of any State by name, whatever page it
shows. So authorisation is a property of the handler, not of a page:

- every handler is for admins unless its definition says otherwise with `@public` or `@staff`;
- Reflex's own handlers are listed once below (`REFLEX_HANDLERS`); its generic `setvar` is refused;
- `AuthorizationMiddleware` runs before every event the server processes (websocket events,
  chained events, on_load events, uploads) and refuses what the session cookie does not allow.

The session cookie is HttpOnly (set by `api/session.py`), so it is read from the websocket's own
request headers on the server, never from anything the browser sends in an event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import reflex as rx
from reflex.middleware import Middleware
from reflex.state import BaseState, State, StateUpdate
from reflex_base.event import Event
from reflex_base.registry import RegistrationContext

from marketing_ui.core import audit
from marketing_ui.core.auth import STAFF_HOME, CurrentUser, sessions, token_from_cookie_header

if TYPE_CHECKING:
    from reflex.app import App

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

LOGIN_PATH = "/login"


class Audience(StrEnum):
    PUBLIC = "public"  # anyone, with or without a session
    STAFF = "staff"  # counter staff and admins
    ADMIN = "admin"  # the default for every handler
    NOBODY = "nobody"  # never callable from a browser


def public(fn: F) -> F:
    """Declare a handler callable without a session (put it under `@rx.event`)."""
    fn.__audience__ = Audience.PUBLIC  # type: ignore[attr-defined]
    return fn


def staff(fn: F) -> F:
    """Declare a handler callable by counter staff as well as admins (under `@rx.event`)."""
    fn.__audience__ = Audience.STAFF  # type: ignore[attr-defined]
    return fn


DEFAULT_UPLOAD_LIMIT = 2 * 1024 * 1024


def upload_limit(max_bytes: int) -> Callable[[F], F]:
    """Declare how big an upload a handler takes; `/_upload` refuses larger bodies unread."""

    def declare(fn: F) -> F:
        fn.__upload_limit__ = max_bytes  # type: ignore[attr-defined]
        return fn

    return declare


def upload_limit_of(fn: Callable[..., Any]) -> int:
    return int(getattr(fn, "__upload_limit__", DEFAULT_UPLOAD_LIMIT))


# Reflex's own handlers, by function name. They move page state along (hydration, on_load
# dispatch, client-storage sync, error reports) and carry no data of ours. Anything else defined
# inside Reflex — above all the generic `setvar`, which writes any var of any state — is refused.
REFLEX_HANDLERS: dict[str, Audience] = {
    "hydrate": Audience.PUBLIC,
    "hydrate_and_load": Audience.PUBLIC,
    "set_is_hydrated": Audience.PUBLIC,
    "on_load_internal": Audience.PUBLIC,
    "update_vars_internal": Audience.PUBLIC,
    "handle_frontend_exception": Audience.PUBLIC,
}


def audience_of(fn: Callable[..., Any]) -> Audience:
    """The declared audience of a handler function; admin when nothing is declared."""
    declared = getattr(fn, "__audience__", None)
    if declared is not None:
        return Audience(declared)
    if (getattr(fn, "__module__", "") or "").startswith(("reflex.", "reflex_base.")):
        return REFLEX_HANDLERS.get(getattr(fn, "__name__", ""), Audience.NOBODY)
    return Audience.ADMIN


def handler_audience(event_name: str) -> Audience:
    """The audience of the handler an event names; unknown names are nobody's."""
    registered = RegistrationContext.get().event_handlers.get(event_name)
    if registered is None:
        return Audience.NOBODY
    return audience_of(registered.handler.fn)


def allows(audience: Audience, user: CurrentUser | None) -> bool:
    if audience == Audience.PUBLIC:
        return True
    if audience == Audience.NOBODY or user is None:
        return False
    if audience == Audience.STAFF:
        return True  # both roles work the counter
    return user.is_admin


def all_handlers() -> Iterator[tuple[str, Audience]]:
    """Every event handler of every State, by the name a client sends (the enumeration test)."""
    stack: list[type[BaseState]] = [State]
    while stack:
        cls = stack.pop()
        stack.extend(cls.get_substates())
        for name, handler in cls.event_handlers.items():
            yield f"{cls.get_full_name()}.{name}", audience_of(handler.fn)


def session_user(state: BaseState) -> CurrentUser | None:
    """The user behind the session cookie of the connection this state's events arrive on."""
    headers = (state.router_data or {}).get("headers") or {}
    return sessions.user(token_from_cookie_header(headers.get("cookie", "")))


def still_allowed(state: BaseState, audience: Audience = Audience.ADMIN) -> bool:
    """For long-running (background) handlers: is the session that started them still good?

    The middleware checks once, when the event arrives; a live loop asks again on each round so
    a logout, an expiry or a disabled account stops it within seconds.
    """
    return allows(audience, session_user(state))


def _refusal(state: BaseState, audience: Audience, user: CurrentUser | None) -> list[Event]:
    """Where a refused browser goes: to log in, or (staff on an admin action) to the counter."""
    if audience == Audience.NOBODY and user is not None and user.is_admin:
        return []  # nothing an admin could do about it
    path = state.router.url.path or "/"
    if user is None:
        target = LOGIN_PATH if path == LOGIN_PATH else f"{LOGIN_PATH}?next={quote(path)}"
    else:
        target = f"{STAFF_HOME}?denied={quote(path)}"
    return Event.from_event_type(rx.redirect(target))


def _app_state_classes() -> Iterator[type[BaseState]]:
    from marketing_ui.state.auth import AuthState

    stack: list[type[BaseState]] = [AuthState]
    while stack:
        cls = stack.pop()
        yield cls
        stack.extend(cls.get_substates())


async def _bind_to_session(state: BaseState, user: CurrentUser | None) -> None:
    """Page state belongs to one login session: another session (or none) starts from empty.

    Without this a tab whose session ended (logout, expiry, another user logging in) would still
    hold, and re-send on hydration, what the previous session loaded.
    """
    from marketing_ui.state.auth import AuthState

    auth = await state.get_state(AuthState)
    owner = f"{user.id}:{user.session_id}" if user else ""
    if auth._owner != owner:
        for cls in _app_state_classes():
            wipe(await state.get_state(cls))
        auth._owner = owner
    username, role = (user.username, str(user.role)) if user else ("", "")
    if auth.username != username or auth.role != role:
        auth.username, auth.role = username, role


def wipe(state: BaseState) -> None:
    """Every var of one state (its substates are wiped by the caller), backend vars included."""
    cls = type(state)
    for name, field in cls.__fields__.items():
        if field._owner is cls:
            setattr(state, name, field.default_value())


class AuthorizationMiddleware(Middleware):
    """Runs before every event handler: refuses events the session may not send."""

    async def preprocess(self, app: App, state: BaseState, event: Event) -> StateUpdate | None:
        audience = handler_audience(event.name)
        user = session_user(state)
        await _bind_to_session(state, user)
        if allows(audience, user):
            audit.act_as(audit.Actor(user.id, user.username) if user else audit.SYSTEM)
            return None
        log.warning(
            "refused %s event %s for %s",
            audience.value,
            event.name.rsplit(".", 1)[-1][:80],
            f"{user.role} #{user.id}" if user else "a visitor without a session",
        )
        return StateUpdate(delta={}, events=_refusal(state, audience, user))
