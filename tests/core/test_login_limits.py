"""Login brakes on real Redis: growing waits per (user, IP), caps per IP and per user, no lock-out."""

from __future__ import annotations

import threading

import pytest
import redis
from sqlmodel import Session

from marketing_ui.core import auth
from marketing_ui.core.config import get_settings
from marketing_ui.core.login_limits import LoginLimiter, LoginLimits

ATTACKER = "203.0.113.66"
OWNER_IP = "198.51.100.10"
# Small ceilings keep the tests fast (each failed login runs argon2); the defaults are checked below.
LIMITS = LoginLimits(failures_per_ip=6, failures_per_user=9)


@pytest.fixture
def limiter(redis_client: redis.Redis) -> LoginLimiter:
    return LoginLimiter(redis_client, limits=LIMITS, prefix=redis_client.prefix)


@pytest.fixture
def admin(session: Session) -> str:
    auth.create_user(session, "admin", "right-password", "admin")
    session.commit()
    return "right-password"


def fail(session: Session, r: redis.Redis, limiter: LoginLimiter, user: str, ip: str) -> str:
    with pytest.raises(auth.AuthError) as info:
        auth.login(session, r, user, "wrong-guess", ip, limiter)
    return str(info.value)


def wait_has_passed(r: redis.Redis, limiter: LoginLimiter, user: str, ip: str) -> None:
    """Stand-in for the clock: the pair's wait key expires (what Redis does after its TTL)."""
    r.delete(limiter.keys(user, ip)[1])


def test_the_defaults() -> None:
    limits = LoginLimits()
    assert (limits.free_failures_per_pair, limits.max_delay_s) == (3, 15 * 60)
    assert (limits.failures_per_ip, limits.ip_window_s) == (20, 15 * 60)
    assert (limits.failures_per_user, limits.user_window_s) == (100, 3600)


def test_three_free_failures_then_waits_that_double_up_to_15_minutes(
    redis_client: redis.Redis,
) -> None:
    r = redis_client
    limiter = LoginLimiter(r, prefix=r.prefix)  # one pair only: the IP and user caps stay far
    wait_key = limiter.keys("someone", ATTACKER)[1]
    assert [limiter.attempt("someone", ATTACKER).allowed for _ in range(3)] == [True] * 3
    waits = []
    for _ in range(12):
        waits.append(-(-r.pttl(wait_key) // 1000))
        refused = limiter.attempt("someone", ATTACKER)  # refused, and not counted
        assert not refused.allowed and refused.retry_after_s == waits[-1]
        assert refused.message.startswith(
            "Too many failed attempts for this account from your address."
        )
        wait_has_passed(r, limiter, "someone", ATTACKER)
        assert limiter.attempt("someone", ATTACKER).allowed
    assert waits[:6] == [2, 4, 8, 16, 32, 64]
    assert waits[-3:] == [900, 900, 900]  # capped at 15 minutes
    assert limiter.attempt("someone", ATTACKER).message.endswith("Try again in about 15 minutes.")


def test_a_stranger_cannot_lock_the_admin_out(
    session: Session, redis_client: redis.Redis, limiter: LoginLimiter, admin: str
) -> None:
    r = redis_client
    for _ in range(LIMITS.failures_per_user + 5):  # past every per-pair and per-IP limit
        fail(session, r, limiter, "admin", ATTACKER)
    assert "Too many" in fail(session, r, limiter, "admin", ATTACKER)
    token = auth.login(session, r, "admin", admin, OWNER_IP, limiter)
    assert auth.user_for_session(session, token).username == "admin"


def test_one_address_cannot_spray_many_usernames(
    session: Session, redis_client: redis.Redis, limiter: LoginLimiter, admin: str
) -> None:
    r = redis_client
    for n in range(LIMITS.failures_per_ip):
        assert fail(session, r, limiter, f"user{n}", ATTACKER) == "Wrong username or password."
    message = fail(session, r, limiter, "user-next", ATTACKER)
    assert message.startswith(
        "Too many failed logins from your address. Try again in about 15 minutes"
    )
    with pytest.raises(auth.AuthError, match="from your address"):
        auth.login(session, r, "admin", admin, ATTACKER, limiter)  # refused before the password
    assert auth.login(session, r, "admin", admin, OWNER_IP, limiter)


def test_many_addresses_guessing_one_account_hit_a_ceiling_that_spares_known_addresses(
    session: Session, redis_client: redis.Redis, limiter: LoginLimiter, admin: str
) -> None:
    r = redis_client
    auth.login(session, r, "admin", admin, OWNER_IP, limiter)  # the owner's usual address
    for n in range(LIMITS.failures_per_user):
        fail(session, r, limiter, "admin", f"10.9.0.{n}")
    message = fail(session, r, limiter, "admin", "10.10.0.1")
    assert message.startswith("Too many failed logins for this account; it can still sign in")
    with pytest.raises(auth.AuthError, match="for this account"):
        auth.login(session, r, "admin", admin, "192.0.2.44", limiter)  # a new address waits
    token = auth.login(session, r, "admin", admin, OWNER_IP, limiter)  # a known one does not
    assert auth.user_for_session(session, token).username == "admin"
    # Unknown usernames behave exactly the same: the ceiling reveals nothing about accounts.
    for n in range(LIMITS.failures_per_user):
        assert limiter.attempt("no-such-user", f"10.11.0.{n}").allowed
    assert limiter.attempt("no-such-user", "10.12.0.1").message.startswith(
        "Too many failed logins for this account"
    )


def test_a_right_password_forgives_the_attempt(
    session: Session, redis_client: redis.Redis, limiter: LoginLimiter, admin: str
) -> None:
    r = redis_client
    pair, wait, ip, user, known = limiter.keys("admin", OWNER_IP)
    for _ in range(2):
        fail(session, r, limiter, "admin", OWNER_IP)
    auth.login(session, r, "admin", admin, OWNER_IP, limiter)
    assert not r.exists(pair) and not r.exists(wait)
    assert int(r.get(ip)) == 2 and int(r.get(user)) == 2  # the two real failures still count
    assert r.ttl(known) > 29 * 24 * 3600
    for _ in range(3):  # the allowance starts again
        assert fail(session, r, limiter, "admin", OWNER_IP) == "Wrong username or password."


def test_parallel_guesses_cannot_slip_between_check_and_count(
    redis_client: redis.Redis, limiter: LoginLimiter
) -> None:
    allowed: list[bool] = []
    start = threading.Barrier(20)

    def guess() -> None:
        start.wait()
        allowed.append(limiter.attempt("admin", ATTACKER).allowed)

    threads = [threading.Thread(target=guess) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 3


def test_keys_are_namespaced_by_the_queue_prefix(redis_client: redis.Redis) -> None:
    keys = LoginLimiter(redis_client).keys("Admin ", "198.51.100.1")
    assert all(key.startswith(f"{get_settings().queue_prefix}:login:") for key in keys)
    assert keys == LoginLimiter(redis_client).keys("admin", "198.51.100.1")
    assert not any("admin" in key for key in keys)  # usernames are hashed
