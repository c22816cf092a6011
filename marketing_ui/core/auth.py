"""Dashboard accounts: argon2 password hashes, expiring sessions, login rate limiting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlmodel import Session

from marketing_ui.core.config import get_settings
from marketing_ui.core.crypto import random_token, token_hash
from marketing_ui.core.login_limits import LoginLimiter
from marketing_ui.core.models import LoginSession, Role, User, utcnow

_hasher = PasswordHasher()
# A real hash to verify against when the user does not exist, so timing does not reveal names.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
MIN_PASSWORD_LENGTH = 8


class AuthError(ValueError):
    """A login or account problem with a message safe to show to the user."""


@dataclass(frozen=True)
class CurrentUser:
    id: int
    username: str
    role: str

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
    return revoke_sessions(session, user.id)


def enable_user(session: Session, username: str) -> bool:
    """Let a disabled account sign in again; False when it was already active."""
    user = _user(session, username)
    if user.active:
        return False
    session.execute(update(User).where(User.id == user.id).values(active=True))
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
        raise AuthError(decision.message)
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
        select(User.id, User.username, User.role)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(
            LoginSession.token_hash == token_hash(token),
            LoginSession.expires_at > utcnow(),
            User.active.is_(True),
        )
    ).first()
    return CurrentUser(id=row.id, username=row.username, role=row.role) if row else None


def logout(session: Session, token: str) -> None:
    session.execute(delete(LoginSession).where(LoginSession.token_hash == token_hash(token)))
    session.commit()


def purge_expired_sessions(session: Session) -> int:
    result = session.execute(delete(LoginSession).where(LoginSession.expires_at <= utcnow()))
    session.commit()
    return result.rowcount or 0
