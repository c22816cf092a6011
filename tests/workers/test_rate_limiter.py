"""The shared GCRA limiter against a real Redis: bounds under concurrency, penalties, clock."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import uuid
from collections.abc import Callable

import pytest
import redis

from workers.rate_limiter import RateLimiter


def _limiter_for(client: redis.Redis, rate: float, burst: int, key: str = "resend") -> RateLimiter:
    return RateLimiter(client, key, rate, burst, prefix=client.prefix + "rl:")  # type: ignore[attr-defined]


def _worst_window(grant_times_s: list[float], window_s: float) -> int:
    """Most grants in any closed window [t, t + window_s], computed in whole microseconds."""
    times = sorted(round(t * 1_000_000) for t in grant_times_s)
    width = round(window_s * 1_000_000)
    worst = end = 0
    for start, t in enumerate(times):
        while end < len(times) and times[end] <= t + width:
            end += 1
        worst = max(worst, end - start)
    return worst


def _assert_within_limit(grant_times_s: list[float], rate: float, burst: int) -> None:
    """No closed window of length w holds more than rate * w + burst grants (GCRA's promise)."""
    span_us = round(max(grant_times_s) * 1_000_000) - round(min(grant_times_s) * 1_000_000)
    rounding = 1e-6  # float error only; one extra grant would be 1.0 over
    assert len(grant_times_s) <= rate * span_us / 1_000_000 + burst + rounding
    assert _worst_window(grant_times_s, 1.0) <= rate * 1.0 + burst
    assert _worst_window(grant_times_s, 0.25) <= rate * 0.25 + burst


# --- single caller -----------------------------------------------------------------------


def test_burst_is_granted_at_once_then_tokens_are_spaced(redis_client: redis.Redis) -> None:
    limiter = _limiter_for(redis_client, rate=10, burst=3)
    assert [limiter.try_acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.try_acquire()
    assert 0.05 < wait <= 0.1


def test_a_refused_call_takes_nothing(redis_client: redis.Redis) -> None:
    limiter = _limiter_for(redis_client, rate=2, burst=1)
    assert limiter.try_acquire() == 0.0
    waits = [limiter.try_acquire() for _ in range(20)]
    assert all(
        0.3 < w <= 0.5 for w in waits
    )  # would grow by 0.5 s per call if refusals took tokens
    assert not limiter.acquire(max_wait_s=0.05)
    assert limiter.try_acquire() <= 0.5


def test_unlimited_never_waits_and_writes_nothing(redis_client: redis.Redis) -> None:
    for rate in (0, -1, float("inf")):
        limiter = _limiter_for(redis_client, rate=rate, burst=1)
        assert all(limiter.try_acquire(50) == 0.0 for _ in range(100))
        assert limiter.acquire(1000, max_wait_s=0.0)
        assert not redis_client.exists(limiter.key)


def test_invalid_arguments_are_refused(redis_client: redis.Redis) -> None:
    limiter = _limiter_for(redis_client, rate=10, burst=5)
    with pytest.raises(ValueError):
        limiter.try_acquire(6)
    with pytest.raises(ValueError):
        limiter.try_acquire(0)
    with pytest.raises(ValueError):
        _limiter_for(redis_client, rate=10, burst=0)
    with pytest.raises(ValueError):
        _limiter_for(redis_client, rate=float("nan"), burst=1)


def test_acquire_sleeps_until_its_booked_slot(redis_client: redis.Redis) -> None:
    limiter = _limiter_for(redis_client, rate=20, burst=1)
    assert limiter.acquire()
    started = time.monotonic()
    assert limiter.acquire(max_wait_s=1.0)
    assert 0.04 <= time.monotonic() - started < 0.5


def test_acquire_gives_up_at_once_when_the_wait_is_too_long(redis_client: redis.Redis) -> None:
    limiter = _limiter_for(redis_client, rate=1, burst=1)
    assert limiter.acquire()
    started = time.monotonic()
    assert not limiter.acquire(max_wait_s=0.3)
    assert time.monotonic() - started < 0.2
    assert limiter.try_acquire() <= 1.0  # the refused acquire booked nothing


def test_acquire_more_than_burst_books_consecutive_slots(redis_client: redis.Redis) -> None:
    limiter = _limiter_for(redis_client, rate=100, burst=5)
    assert not limiter.acquire(500, max_wait_s=1.0)  # would need ~5 s: refused, nothing taken
    started = time.monotonic()
    assert limiter.acquire(20, max_wait_s=1.0)
    assert 0.13 <= time.monotonic() - started < 0.6  # 15 tokens beyond the burst at 10 ms
    assert 0.0 < limiter.try_acquire() <= 0.011


# --- settings changes --------------------------------------------------------------------


def test_a_faster_rate_applies_on_the_next_call(redis_client: redis.Redis) -> None:
    slow = _limiter_for(redis_client, rate=0.5, burst=1)
    assert slow.try_acquire() == 0.0
    assert slow.try_acquire() > 1.5
    slow.set_rate(100)
    assert slow.try_acquire() <= 0.011  # the one owed token is re-spaced at 10 ms


def test_a_slower_rate_applies_on_the_next_call(redis_client: redis.Redis) -> None:
    fast = _limiter_for(redis_client, rate=100, burst=5)
    assert all(fast.try_acquire() == 0.0 for _ in range(5))
    slower = _limiter_for(redis_client, rate=1, burst=5)  # another worker, newer settings
    assert 0.5 < slower.try_acquire() <= 1.0  # ~five tokens owed at 1/s, burst of five


# --- penalties ---------------------------------------------------------------------------


def test_penalize_stops_every_instance(redis_client: redis.Redis) -> None:
    first = _limiter_for(redis_client, rate=100, burst=10)
    others = [
        _limiter_for(redis_client, rate=r, burst=b) for r, b in ((100, 10), (5, 1), (1000, 50))
    ]
    first.penalize(1.0)
    for limiter in [first, *others]:
        assert limiter.try_acquire() >= 0.9
        assert not limiter.acquire(max_wait_s=0.5)


def test_penalize_never_shortens_an_existing_pause(redis_client: redis.Redis) -> None:
    limiter = _limiter_for(redis_client, rate=100, burst=10)
    limiter.penalize(3.0)
    _limiter_for(redis_client, rate=100, burst=10).penalize(0.5)
    assert limiter.try_acquire() >= 2.9


def test_penalize_does_not_touch_other_keys(redis_client: redis.Redis) -> None:
    _limiter_for(redis_client, rate=10, burst=1, key="twilio:+15550001111").penalize(5.0)
    assert _limiter_for(redis_client, rate=10, burst=1, key="resend").try_acquire() == 0.0


def test_after_a_pause_tokens_resume_at_the_rate_without_a_burst(redis_client: redis.Redis) -> None:
    limiter = _limiter_for(redis_client, rate=20, burst=5)
    limiter.penalize(0.2)
    grants = [limiter.reserve(1, max_wait_s=2.0) for _ in range(5)]
    assert all(g.granted for g in grants)
    assert grants[0].wait_s >= 0.15
    gaps = [b.at_s - a.at_s for a, b in zip(grants, grants[1:], strict=False)]
    assert all(0.0499 <= gap <= 0.0501 for gap in gaps)


# --- time comes from Redis ---------------------------------------------------------------


def test_a_wrong_host_clock_changes_nothing(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    seconds, micros = redis_client.time()
    for wrong_clock in (0.0, 4_102_444_800.0):  # 1970 and 2100
        monkeypatch.setattr(time, "time", lambda wrong=wrong_clock: wrong)
        monkeypatch.setattr(time, "time_ns", lambda wrong=wrong_clock: int(wrong * 1e9))
        limiter = _limiter_for(redis_client, rate=10, burst=2, key=f"skew:{wrong_clock}")
        first = limiter.reserve(1)
        assert first.granted and abs(first.at_s - (seconds + micros / 1e6)) < 5.0
        assert limiter.try_acquire() == 0.0
        assert 0.05 < limiter.try_acquire() <= 0.1


# --- concurrency -------------------------------------------------------------------------


def test_threads_sharing_a_key_stay_within_the_limit(redis_client: redis.Redis) -> None:
    rate, burst, seconds = 100.0, 5, 1.5
    grants: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def hammer() -> None:
        limiter = _limiter_for(redis_client, rate=rate, burst=burst)  # one instance per thread
        mine: list[float] = []
        while time.monotonic() < deadline:
            grant = limiter.reserve(1)  # try_acquire, keeping the Redis time of the grant
            if grant.granted:
                mine.append(grant.at_s)
        with lock:
            grants.extend(mine)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _assert_within_limit(grants, rate, burst)
    assert len(grants) >= 0.8 * rate * seconds  # the limiter also lets traffic through


def _hammer_from_process(
    redis_url: str, key: str, prefix: str, rate: float, burst: int, seconds: float, skew_s: float
) -> list[float]:
    """Run in a child process whose wall clock is wrong by skew_s; returns Redis grant times."""
    if skew_s:
        real_time: Callable[[], float] = time.time
        time.time = lambda: real_time() + skew_s  # type: ignore[assignment]
    client = redis.Redis.from_url(redis_url)
    limiter = RateLimiter(client, key, rate, burst, prefix=prefix)
    granted: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        grant = limiter.reserve(1, max_wait_s=0.2)
        if grant.granted:
            time.sleep(grant.wait_s)  # what acquire does, keeping the Redis slot time
            granted.append(grant.at_s)
    client.close()
    return granted


def test_processes_with_skewed_clocks_stay_within_the_limit(redis_client: redis.Redis) -> None:
    rate, burst, seconds = 100.0, 3, 1.5
    key = f"procs:{uuid.uuid4().hex[:8]}"
    skews = [0.0, 3600.0, -86_400.0, 7.5]
    args = [
        (os.environ["REDIS_URL"], key, redis_client.prefix + "rl:", rate, burst, seconds, skew)  # type: ignore[attr-defined]
        for skew in skews
    ]
    with multiprocessing.get_context("spawn").Pool(len(skews)) as pool:
        per_process = pool.starmap(_hammer_from_process, args)
    grants = [t for times in per_process for t in times]
    assert all(per_process), "every process got tokens"
    _assert_within_limit(grants, rate, burst)
    span = max(grants) - min(grants)
    assert len(grants) >= 0.8 * rate * span
