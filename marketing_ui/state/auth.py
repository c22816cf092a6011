"""The logged-in user, shared by every page; `access.AuthorizationMiddleware` fills it in.

Logging in and out are HTTP form posts (`api/session.py`), because only an HTTP response can set
an HttpOnly cookie. The page guards below do nothing themselves: their declared audience is the
check, made by the middleware before they run, like for every other handler.
"""

from __future__ import annotations

import reflex as rx

from marketing_ui.core.auth import STAFF_HOME, safe_next
from marketing_ui.core.login_limits import wait_text
from marketing_ui.state.access import LOGIN_PATH, public, session_user, staff

# Messages the login page shows for the codes the login endpoint redirects with.
LOGIN_MESSAGES = {
    "invalid": "Wrong username or password.",
    "missing": "Enter your username and password.",
    "limited": "Too many failed attempts. Try again in {wait}.",
    "expired": "Your session ended. Log in again.",
    "origin": "That login form came from another site. Open the login page and try again.",
}


class AuthState(rx.State):
    """Who is logged in, for display; set on the server from the HttpOnly session cookie."""

    username: str = ""
    role: str = ""
    loaded_path: str = ""  # the page whose on_load events last finished (see page_loaded)
    _owner: str = ""  # "user id:session id" this page state belongs to (access._bind_to_session)

    @rx.var
    def is_admin(self) -> bool:
        return self.role == "admin"

    @rx.event
    def require_admin(self):
        """on_load of admin pages: its (default, admin) audience is the whole check."""

    @rx.event
    @staff
    def require_staff(self):
        """on_load of counter pages: staff or admin."""

    @rx.event
    @staff
    def page_loaded(self):
        """The last on_load event of every page: everything the page loads is there."""
        self.loaded_path = (self.router.url.path or "/").rstrip("/") or "/"


class LoginState(AuthState):
    """The login page: where to go afterwards and why the last attempt failed."""

    next_path: str = "/"
    error: str = ""

    @rx.event
    @public
    def load(self):
        query = self.router.url.query_parameters
        user = session_user(self)
        if user is not None:
            home = "/" if user.is_admin else STAFF_HOME
            return rx.redirect(safe_next(query.get("next", ""), home))
        self.next_path = safe_next(query.get("next", ""))
        self.loaded_path = LOGIN_PATH
        code = query.get("error", "")
        wait = query.get("wait", "")
        seconds = int(wait) if wait.isdigit() and len(wait) < 7 else 60
        self.error = LOGIN_MESSAGES.get(code, "").format(wait=wait_text(seconds))
        return None
