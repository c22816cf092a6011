"""Accounts: argon2 hashes, clear login errors, rate limiting, expiring sessions, roles."""

from datetime import timedelta

import pytest
import redis
from sqlalchemy import update
from sqlmodel import Session

from marketing_ui.core import auth
from marketing_ui.core.clock import utcnow
from marketing_ui.core.login_limits import LoginLimiter
from marketing_ui.core.models import LoginSession, User


@pytest.fixture
def r(redis_client: redis.Redis) -> redis.Redis:
    return redis_client


def _ip(redis_client: redis.Redis) -> str:
    return redis_client.prefix  # unique per test: keeps rate-limit keys apart


def test_password_is_hashed_with_argon2(session: Session) -> None:
    user = auth.create_user(session, "Owner", "correct horse", "admin")
    session.commit()
    assert user.username == "owner"
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash


def test_login_and_session_lookup(session: Session, r: redis.Redis) -> None:
    auth.create_user(session, "staffer", "password-1", "staff")
    session.commit()
    token = auth.login(session, r, "STAFFER", "password-1", _ip(r))
    user = auth.user_for_session(session, token)
    assert user is not None and user.username == "staffer" and not user.is_admin
    assert auth.user_for_session(session, token + "x") is None
    auth.logout(session, token)
    assert auth.user_for_session(session, token) is None


def test_wrong_password_has_a_clear_message(session: Session, r: redis.Redis) -> None:
    auth.create_user(session, "owner2", "password-1")
    session.commit()
    with pytest.raises(auth.AuthError, match="Wrong username or password"):
        auth.login(session, r, "owner2", "nope-nope", _ip(r))
    with pytest.raises(auth.AuthError, match="Wrong username or password"):
        auth.login(session, r, "nobody", "password-1", _ip(r))


def test_failed_logins_are_rate_limited(session: Session, r: redis.Redis) -> None:
    auth.create_user(session, "target", "password-1")
    session.commit()
    limiter = LoginLimiter(r, prefix=r.prefix)
    for _ in range(3):
        with pytest.raises(auth.AuthError, match="Wrong"):
            auth.login(session, r, "target", "guess", "198.51.100.7", limiter)
    with pytest.raises(auth.AuthError, match=r"Too many .* Try again in 2 seconds\."):
        auth.login(
            session, r, "target", "password-1", "198.51.100.7", limiter
        )  # even the right one waits


def test_sessions_expire(session: Session, r: redis.Redis) -> None:
    auth.create_user(session, "old", "password-1")
    session.commit()
    token = auth.login(session, r, "old", "password-1", _ip(r))
    session.execute(update(LoginSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    assert auth.user_for_session(session, token) is None
    assert auth.purge_expired_sessions(session) == 1


def test_inactive_users_cannot_log_in(session: Session, r: redis.Redis) -> None:
    user = auth.create_user(session, "gone", "password-1")
    session.commit()
    session.execute(update(User).where(User.id == user.id).values(active=False))
    session.commit()
    with pytest.raises(auth.AuthError):
        auth.login(session, r, "gone", "password-1", _ip(r))


@pytest.mark.parametrize(
    ("name", "password", "role", "message"),
    [
        ("", "password-1", "admin", "Username"),
        ("x", "short", "admin", "at least 8"),
        ("x", "password-1", "owner", "Role must be"),
    ],
)
def test_bad_accounts_are_refused(
    session: Session, name: str, password: str, role: str, message: str
) -> None:
    with pytest.raises(auth.AuthError, match=message):
        auth.create_user(session, name, password, role)


def test_duplicate_usernames_refused(session: Session) -> None:
    auth.create_user(session, "dup", "password-1")
    with pytest.raises(auth.AuthError, match="already exists"):
        auth.create_user(session, "DUP", "password-2")


def _signed_in(session: Session, r: redis.Redis, name: str, password: str) -> str:
    return auth.login(session, r, name, password, _ip(r), LoginLimiter(r, prefix=r.prefix))


def test_a_new_password_signs_the_user_out_everywhere(session: Session, r: redis.Redis) -> None:
    auth.create_user(session, "owner", "password-1")
    auth.create_user(session, "other", "password-1")
    session.commit()
    tokens = [_signed_in(session, r, "owner", "password-1") for _ in range(2)]
    other = _signed_in(session, r, "other", "password-1")
    assert auth.set_password(session, " Owner ", "password-2") == 2
    session.commit()
    assert [auth.user_for_session(session, t) for t in tokens] == [None, None]
    assert auth.user_for_session(session, other) is not None  # nobody else is affected
    with pytest.raises(auth.AuthError, match="Wrong"):
        _signed_in(session, r, "owner", "password-1")
    assert _signed_in(session, r, "owner", "password-2")
    with pytest.raises(auth.AuthError, match="No user 'ghost'"):
        auth.set_password(session, "ghost", "password-2")
    with pytest.raises(auth.AuthError, match="at least 8"):
        auth.set_password(session, "owner", "short")


def test_disable_and_enable_a_user(session: Session, r: redis.Redis) -> None:
    auth.create_user(session, "boss", "password-1", "admin")
    auth.create_user(session, "clerk", "password-1", "staff")
    session.commit()
    token = _signed_in(session, r, "clerk", "password-1")
    assert auth.disable_user(session, "clerk") == 1
    session.commit()
    assert auth.user_for_session(session, token) is None
    with pytest.raises(auth.AuthError, match="Wrong username or password"):
        _signed_in(session, r, "clerk", "password-1")  # the same answer as a wrong password
    assert auth.enable_user(session, "clerk") is True
    assert auth.enable_user(session, "clerk") is False
    session.commit()
    assert _signed_in(session, r, "clerk", "password-1")
    with pytest.raises(auth.AuthError, match="last active admin"):
        auth.disable_user(session, "boss")
    with pytest.raises(auth.AuthError, match="No user"):
        auth.disable_user(session, "ghost")


def test_list_users(session: Session, r: redis.Redis) -> None:
    auth.create_user(session, "zed", "password-1", "staff")
    auth.create_user(session, "amy", "password-1", "admin")
    session.commit()
    _signed_in(session, r, "amy", "password-1")
    users = auth.list_users(session)
    assert [(u.username, u.role, u.active, u.sessions) for u in users] == [
        ("amy", "admin", True, 1),
        ("zed", "staff", True, 0),
    ]
    assert users[0].last_login_at is not None and users[1].last_login_at is None
