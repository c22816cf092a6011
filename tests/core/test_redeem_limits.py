"""The counter's brute-force brakes refuse with a clear message, per user and per IP independently."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import redis

from marketing_ui.core.redeem_limits import RedeemLimiter, RedeemLimits

SMALL = RedeemLimits(
    attempts_per_user=5,
    attempts_per_ip=8,
    attempts_window_s=300,
    misses_per_user=3,
    misses_per_ip=4,
    misses_window_s=900,
)


def _limiter(redis_client: redis.Redis, limits: RedeemLimits = SMALL) -> RedeemLimiter:
    return RedeemLimiter(redis_client, limits, prefix=redis_client.prefix)


def test_attempts_per_user_are_refused_past_the_limit_with_a_wait(
    redis_client: redis.Redis,
) -> None:
    limiter = _limiter(redis_client)
    decisions = [limiter.attempt(1, "10.0.0.1") for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    refused = decisions[-1]
    assert refused.message.startswith("Too many redemption attempts. Try again in about")
    assert 240 < refused.retry_after_s <= 300
    assert "5 minute(s)" in refused.message


def test_refusals_are_not_counted_so_a_user_is_not_locked_out_longer(
    redis_client: redis.Redis,
) -> None:
    limiter = _limiter(redis_client)
    for _ in range(20):
        limiter.attempt(1, "10.0.0.1")
    key = f"{redis_client.prefix}redeem:try:user:1"
    assert int(redis_client.get(key)) == 5


def test_per_user_and_per_ip_limits_are_independent(redis_client: redis.Redis) -> None:
    limiter = _limiter(redis_client)
    for _ in range(5):
        assert limiter.attempt(1, "10.0.0.1").allowed
    assert not limiter.attempt(1, "10.0.0.2").allowed  # user 1 is out, whatever the IP
    assert limiter.attempt(2, "10.0.0.1").allowed  # user 2 on the same IP still works
    for _ in range(2):
        assert limiter.attempt(2, "10.0.0.1").allowed
    # 8 attempts from 10.0.0.1 now: a third user there is refused, elsewhere not.
    refused = limiter.attempt(3, "10.0.0.1")
    assert not refused.allowed
    assert "Too many redemption attempts" in refused.message
    assert limiter.attempt(3, "10.0.0.9").allowed


def test_unknown_codes_block_much_sooner_than_attempts(redis_client: redis.Redis) -> None:
    limiter = _limiter(redis_client)
    for _ in range(3):
        assert limiter.attempt(1, "10.0.0.1").allowed
        limiter.record_miss(1, "10.0.0.1")
    refused = limiter.attempt(1, "10.0.0.1")
    assert not refused.allowed
    assert refused.message.startswith("Too many unknown codes. Try again in about 15 minute(s)")
    assert 840 < refused.retry_after_s <= 900
    assert limiter.attempt(2, "10.0.0.2").allowed  # others are unaffected


def test_misses_per_ip_catch_guessing_spread_over_accounts(redis_client: redis.Redis) -> None:
    limiter = _limiter(redis_client)
    for user_id in range(1, 5):
        assert limiter.attempt(user_id, "10.0.0.1").allowed
        limiter.record_miss(user_id, "10.0.0.1")
    refused = limiter.attempt(9, "10.0.0.1")
    assert not refused.allowed and "unknown codes" in refused.message
    assert limiter.attempt(9, "10.0.0.2").allowed


def test_concurrent_attempts_never_exceed_the_limit(redis_client: redis.Redis) -> None:
    limiter = _limiter(redis_client, RedeemLimits(attempts_per_user=10, attempts_per_ip=1000))
    with ThreadPoolExecutor(max_workers=16) as pool:
        decisions = list(pool.map(lambda _: limiter.attempt(7, "10.0.0.1"), range(64)))
    assert sum(d.allowed for d in decisions) == 10


def test_clear_user_lifts_a_block(redis_client: redis.Redis) -> None:
    limiter = _limiter(redis_client)
    for _ in range(3):
        limiter.record_miss(1, "10.0.0.1")
    assert not limiter.attempt(1, "10.0.0.2").allowed
    limiter.clear_user(1)
    assert limiter.attempt(1, "10.0.0.2").allowed
