"""Dashboard accounts: argon2 password hashes, expiring sessions, login rate limiting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
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


def set_password(session: Session, username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"Password must be at least {MIN_PASSWORD_LENGTH} characters.")
    result = session.execute(
        update(User)
        .where(User.username == username.strip().lower())
        .values(password_hash=hash_password(password))
    )
    if result.rowcount == 0:
        raise AuthError(f"No user '{username}'.")


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
