"""Dashboard accounts: argon2 password hashes, expiring sessions, login rate limiting."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlmodel import Session

from marketing_ui.core import audit
from marketing_ui.core.clock import utcnow
from marketing_ui.core.config import get_settings
from marketing_ui.core.crypto import random_token, token_hash
from marketing_ui.core.login_limits import LoginLimiter
from marketing_ui.core.models import LoginSession, Role, User

_hasher = PasswordHasher()
# A real hash to verify against when the user does not exist, so timing does not reveal names.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
STAFF_HOME = "/redeem"  # the one page of the counter staff role
SESSION_COOKIE = "mk_session"  # HttpOnly; set and cleared only by the HTTP login/logout endpoints
MIN_PASSWORD_LENGTH = 8


class AuthError(ValueError):
    """A login or account problem with a message safe to show to the user."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds, when the refusal is a rate limit


@dataclass(frozen=True)
class CurrentUser:
    id: int
    username: str
    role: str
    session_id: int = 0  # the login session it was found through (0: not from a session)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(session: Session, username: str, password: str, role: str = Role.ADMIN) -> User:
    """Create an account; the caller commits."""
    username = username.strip().lower()
    if not username or len(username) > 80:
        raise AuthError("Username must be 1 to 80 characters.")
    if role not in {r.value for r in Role}:
        raise AuthError(f"Role must be one of: {', '.join(r.value for r in Role)}.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"Password must be at least {MIN_PASSWORD_LENGTH} characters.")
    if session.execute(select(User.id).where(User.username == username)).first():
        raise AuthError(f"User '{username}' already exists.")
    user = User(username=username, password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    audit.record(session, "user.create", "user", user.id, f"{username!r} as {role}")
    return user


@dataclass(frozen=True)
class UserSummary:
    """One account as the operator's `list-users` shows it."""

    username: str
    role: str
    active: bool
    last_login_at: datetime | None
    sessions: int


def _user(session: Session, username: str) -> User:
    name = username.strip().lower()
    user = session.execute(select(User).where(User.username == name)).scalars().first()
    if user is None:
        raise AuthError(f"No user '{name}'.")
    return user


def revoke_sessions(session: Session, user_id: int) -> int:
    """Sign a user out everywhere; returns how many sessions ended. The caller commits."""
    result = session.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
    return result.rowcount or 0


def set_password(session: Session, username: str, password: str) -> int:
    """New password; every session of the user ends (a leaked one dies with the old password).

    Returns the number of sessions ended; the caller commits.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"Password must be at least {MIN_PASSWORD_LENGTH} characters.")
    user = _user(session, username)
    session.execute(
        update(User).where(User.id == user.id).values(password_hash=hash_password(password))
    )
    audit.record(session, "user.set_password", "user", user.id, f"for {user.username!r}")
    return revoke_sessions(session, user.id)


def disable_user(session: Session, username: str) -> int:
    """Block an account and end its sessions; returns how many ended. The caller commits.

    The last active admin cannot be disabled: nobody could then manage the app from the UI.
    """
    user = _user(session, username)
    if user.role == Role.ADMIN and user.active:
        others = session.execute(
            select(func.count(User.id)).where(
                User.role == Role.ADMIN, User.active.is_(True), User.id != user.id
            )
        ).scalar_one()
        if not others:
            raise AuthError(
                f"'{user.username}' is the last active admin; enable or create another first."
            )
    session.execute(update(User).where(User.id == user.id).values(active=False))
    audit.record(session, "user.disable", "user", user.id, f"{user.username!r}")
    return revoke_sessions(session, user.id)


def enable_user(session: Session, username: str) -> bool:
    """Let a disabled account sign in again; False when it was already active."""
    user = _user(session, username)
    if user.active:
        return False
    session.execute(update(User).where(User.id == user.id).values(active=True))
    audit.record(session, "user.enable", "user", user.id, f"{user.username!r}")
    return True


def list_users(session: Session) -> list[UserSummary]:
    """Every account with its live session count, by username."""
    live = (
        select(LoginSession.user_id, func.count(LoginSession.id).label("n"))
        .where(LoginSession.expires_at > utcnow())
        .group_by(LoginSession.user_id)
        .subquery()
    )
    rows = session.execute(
        select(User.username, User.role, User.active, User.last_login_at, live.c.n)
        .outerjoin(live, live.c.user_id == User.id)
        .order_by(User.username)
    ).all()
    return [
        UserSummary(row.username, row.role, bool(row.active), row.last_login_at, row.n or 0)
        for row in rows
    ]


def login(
    session: Session,
    r: redis.Redis,
    username: str,
    password: str,
    client_ip: str = "unknown",
    limiter: LoginLimiter | None = None,
) -> str:
    """Check credentials and open a session; returns the session token (kept only by the browser).

    `client_ip` must be the real client (core.client_ip behind proxies): failures are
    limited per (username, IP), per IP and per username, see core/login_limits.py.
    """
    username = username.strip().lower()
    limiter = limiter or LoginLimiter(r)
    decision = limiter.attempt(username, client_ip)
    if not decision.allowed:
        raise AuthError(decision.message, retry_after=decision.retry_after_s or 1)
    user = session.execute(select(User).where(User.username == username)).scalars().first()
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        ok = user is not None and user.active
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        raise AuthError("Wrong username or password.")  # already counted by attempt()
    limiter.succeeded(username, client_ip)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token = random_token(32)
    now = utcnow()
    session.add(
        LoginSession(
            token_hash=token_hash(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(hours=get_settings().session_hours),
        )
    )
    user.last_login_at = now
    session.add(user)
    session.commit()
    return token


def user_for_session(session: Session, token: str) -> CurrentUser | None:
    """The user behind a live session token, or None when unknown or expired."""
    if not token:
        return None
    row = session.execute(
        select(User.id, User.username, User.role, LoginSession.id.label("session_id"))
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(
            LoginSession.token_hash == token_hash(token),
            LoginSession.expires_at > utcnow(),
            User.active.is_(True),
        )
    ).first()
    if row is None:
        return None
    return CurrentUser(id=row.id, username=row.username, role=row.role, session_id=row.session_id)


def safe_next(target: str, fallback: str = "/") -> str:
    """A path on this site to return to after logging in, never another site or the login page."""
    if (
        not target.startswith("/")
        or target.startswith(("//", "/login"))
        or "\\" in target
        or len(target) > 500
        or not target.isprintable()
    ):
        return fallback
    return target


def token_from_cookie_header(header: str) -> str:
    """The session token in a raw `Cookie:` header, or "" (junk cookies are ignored, not fatal)."""
    if not header or len(header) > 8192:
        return ""
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE:
            value = value.strip().strip('"')
            return value if value.isascii() and len(value) <= 200 else ""
    return ""


def logout(session: Session, token: str) -> None:
    session.execute(delete(LoginSession).where(LoginSession.token_hash == token_hash(token)))
    session.commit()
    sessions.forget(token)


def purge_expired_sessions(session: Session) -> int:
    result = session.execute(delete(LoginSession).where(LoginSession.expires_at <= utcnow()))
    session.commit()
    return result.rowcount or 0


SESSION_CACHE_S = 2.0  # logout, expiry, disabling and role changes reach every process this fast


class SessionCache:
    """Who a session token belongs to, remembered for a moment: every websocket event asks."""

    def __init__(self, ttl_s: float = SESSION_CACHE_S, max_entries: int = 10_000) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._entries: dict[str, tuple[float, CurrentUser | None]] = {}
        self._lock = threading.Lock()

    def user(self, token: str) -> CurrentUser | None:
        if not token or len(token) > 200:
            return None
        key = token_hash(token)
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        from marketing_ui.core.db import session_scope

        with session_scope() as session:
            found = user_for_session(session, token)
        with self._lock:
            if len(self._entries) >= self._max_entries:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                if len(self._entries) >= self._max_entries:
                    self._entries.clear()
            self._entries[key] = (now + self._ttl_s, found)
        return found

    def forget(self, token: str) -> None:
        """Drop a token at once (logout in this process)."""
        with self._lock:
            self._entries.pop(token_hash(token), None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


sessions = SessionCache()
