"""The logged-in user, shared by every page; pages guard themselves with its on_load events."""

from __future__ import annotations

import reflex as rx

from marketing_ui.core import auth
from marketing_ui.core.config import get_settings
from marketing_ui.core.db import session_scope
from marketing_ui.core.redis_client import get_redis

SESSION_COOKIE = "mk_session"
STAFF_HOME = "/redeem"


class AuthState(rx.State):
    """Holds only the session token (a browser cookie) and who it belongs to."""

    session_token: str = rx.Cookie(
        "", name=SESSION_COOKIE, same_site="strict", max_age=get_settings().session_hours * 3600
    )
    username: str = ""
    role: str = ""

    @rx.var
    def is_admin(self) -> bool:
        return self.role == "admin"

    def _load_user(self) -> auth.CurrentUser | None:
        with session_scope() as session:
            user = auth.user_for_session(session, self.session_token)
        self.username = user.username if user else ""
        self.role = user.role if user else ""
        return user

    def _login_redirect(self):
        path = self.router.url.path or "/"
        return rx.redirect(f"/login?next={path}")

    @rx.event
    def require_admin(self):
        """on_load guard for dashboard pages: admins only; staff go to the redeem page."""
        user = self._load_user()
        if user is None:
            return self._login_redirect()
        if not user.is_admin:
            return rx.redirect(f"{STAFF_HOME}?denied={self.router.url.path}")
        return None

    @rx.event
    def require_staff(self):
        """on_load guard for counter pages: any logged-in staff or admin."""
        if self._load_user() is None:
            return self._login_redirect()
        return None

    @rx.event
    def logout(self):
        if self.session_token:
            with session_scope() as session:
                auth.logout(session, self.session_token)
        self.session_token = ""
        self.username = ""
        self.role = ""
        return rx.redirect("/login")


class LoginState(AuthState):
    """The login form."""

    error: str = ""
    busy: bool = False

    @rx.event
    def submit(self, form: dict):
        username = str(form.get("username", ""))
        password = str(form.get("password", ""))
        if not username or not password:
            self.error = "Enter your username and password."
            return None
        try:
            with session_scope() as session:
                token = auth.login(
                    session, get_redis(), username, password, self.router.session.client_ip or "?"
                )
        except auth.AuthError as exc:
            self.error = str(exc)
            return None
        self.error = ""
        self.session_token = token
        user = self._load_user()
        target = self.router.url.query_parameters.get("next", "")
        if not target.startswith("/") or target.startswith("//") or target.startswith("/login"):
            target = "/" if user and user.is_admin else STAFF_HOME
        return rx.redirect(target)
