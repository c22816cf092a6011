"""The shared request limiter against a real Redis: never over in any sliding window, close to
the ceiling, with many callers in many processes and a provider that answers slowly."""

from __future__ import annotations

import multiprocessing
import os
import random
import threading
import time
import uuid

import pytest
import redis

from marketing_ui.core.sending.rate_limiter import Limit, RateLimited, RequestLimiter


def _limiter(client: redis.Redis, limit: Limit | None, key: str = "resend") -> RequestLimiter:
    return RequestLimiter(client, key, limit, prefix=client.prefix + "rl:")  # type: ignore[attr-defined]


def _redis_now(client: redis.Redis) -> float:
    seconds, micros = client.time()
    return seconds + micros / 1_000_000


def _max_in_window(times: list[float], window_s: float) -> int:
    """Most events within any half-open sliding window [t, t + window_s)."""
    times = sorted(times)
    worst = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window_s:
            start += 1
        worst = max(worst, end - start + 1)
    return worst


# --- the limit in the provider's terms ------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (5, Limit(5, 1.0)),
        (1, Limit(1, 1.0)),
        (2.5, Limit(2, 1.0)),  # never rounded up: 3 in a second would be over
        (0.5, Limit(1, 2.0)),
        (0, None),
        (float("inf"), None),
    ],
)
def test_a_rate_becomes_a_count_in_a_window(rate: float, expected: Limit | None) -> None:
    assert Limit.per_second(rate) == expected


# --- one caller ----------------------------------------------------------------------------------


def test_capacity_is_granted_at_once_then_refused_until_an_answer_ages_out(
    redis_client: redis.Redis,
) -> None:
    limiter = _limiter(redis_client, Limit(3, 1.0))
    permits = [limiter.try_acquire()[0] for _ in range(3)]
    assert all(p is not None for p in permits)
    permit, wait, uncertain = limiter.try_acquire()
    assert permit is None and uncertain  # all three still await their answer
    for p in permits:
        limiter.release(p)  # answered now: each stays counted for one more second
    permit, wait, uncertain = limiter.try_acquire()
    assert permit is None and not uncertain and 0.9 < wait <= 1.0


def test_a_look_takes_nothing(redis_client: redis.Redis) -> None:
    limiter = _limiter(redis_client, Limit(1, 1.0))
    for _ in range(20):
        assert limiter.wait_estimate() == 0.0
    assert limiter.try_acquire()[0] is not None


def test_the_window_counts_from_the_answer_not_the_start(redis_client: redis.Redis) -> None:
    """A slow answer pushes the next request back: what the provider counts is arrivals."""
    limiter = _limiter(redis_client, Limit(1, 0.2))
    with limiter.request(max_wait_s=1):
        time.sleep(0.3)  # the provider takes 0.3 s to answer
        answered = time.monotonic()
    with limiter.request(max_wait_s=2):
        started = time.monotonic()
    assert started - answered >= 0.19


def test_acquire_waits_within_its_budget_and_says_how_long_otherwise(
    redis_client: redis.Redis,
) -> None:
    limiter = _limiter(redis_client, Limit(1, 0.3))
    limiter.release(limiter.acquire())
    started = time.monotonic()
    limiter.release(limiter.acquire(max_wait_s=1.0))
    assert 0.25 <= time.monotonic() - started < 0.8
    with pytest.raises(RateLimited) as refused:
        limiter.acquire(max_wait_s=0.05)
    assert 0.2 < refused.value.wait_s <= 0.3


def test_a_worker_that_died_holding_a_permit_blocks_only_until_the_cap(
    redis_client: redis.Redis,
) -> None:
    limiter = RequestLimiter(
        redis_client, "resend", Limit(1, 0.1), prefix=redis_client.prefix + "rl:",  # type: ignore[attr-defined]
        inflight_cap_s=0.5,
    )  # fmt: skip
    limiter.acquire()  # never released: its worker was killed
    assert limiter.try_acquire()[0] is None
    time.sleep(0.65)  # cap 0.5 s + window 0.1 s
    assert limiter.try_acquire()[0] is not None


def test_a_message_heavier_than_the_limit_holds_it_longer(redis_client: redis.Redis) -> None:
    """A 3-segment SMS at 1 segment/s: the next message waits three seconds' worth."""
    limiter = _limiter(redis_client, Limit(1, 0.2), key="twilio:+15550001111")
    with limiter.request(weight=3):
        pass
    _permit, wait, uncertain = limiter.try_acquire()
    assert not uncertain and 0.5 < wait <= 0.6  # 0.2 s window + 2 × 0.2 s extra


def test_unlimited_never_touches_redis(redis_client: redis.Redis) -> None:
    limiter = _limiter(redis_client, None)
    for _ in range(100):
        with limiter.request():
            pass
    assert limiter.wait_estimate() == 0.0
    assert not list(redis_client.scan_iter(match=redis_client.prefix + "*"))  # type: ignore[attr-defined]


def test_a_retry_after_pauses_everyone_on_the_key_and_only_that_key(
    redis_client: redis.Redis,
) -> None:
    limiter = _limiter(redis_client, Limit(100, 1.0))
    limiter.penalize(0.4)
    limiter.penalize(0.1)  # never shortened
    permit, wait, _ = _limiter(redis_client, Limit(100, 1.0)).try_acquire()
    assert permit is None and 0.3 < wait <= 0.4
    assert _limiter(redis_client, Limit(100, 1.0), key="other").try_acquire()[0] is not None


# --- many callers -------------------------------------------------------------------------------


def _hammer(
    url: str, prefix: str, capacity: int, seconds: float, out: multiprocessing.Queue
) -> None:
    """A worker process: requests as fast as allowed, each answered after 0–40 ms; reports when
    each request would have arrived at the provider (somewhere between permit and answer)."""
    client = redis.Redis.from_url(url)
    limiter = RequestLimiter(client, "shared", Limit(capacity, 1.0), prefix=prefix)
    rng = random.Random(os.getpid())
    arrivals: list[float] = []
    end = time.monotonic() + seconds

    def caller() -> None:
        while time.monotonic() < end:
            try:
                permit = limiter.acquire(max_wait_s=2.0)
            except RateLimited:
                continue
            latency = rng.uniform(0.0, 0.04)
            time.sleep(latency)
            arrivals.append(permit.granted_at_s + rng.uniform(0.0, latency))  # in Redis time
            limiter.release(permit)

    threads = [threading.Thread(target=caller) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(arrivals)


def test_many_processes_never_exceed_the_limit_in_any_second_and_reach_its_ceiling(
    redis_client: redis.Redis,
) -> None:
    """4 processes × 3 threads against 10 requests per second, with 0–40 ms answers."""
    capacity, seconds = 10, 4.0
    prefix = redis_client.prefix + f"rl{uuid.uuid4().hex[:6]}:"  # type: ignore[attr-defined]
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    redis_url = os.environ["REDIS_URL"]
    procs = [
        ctx.Process(target=_hammer, args=(redis_url, prefix, capacity, seconds, out))
        for _ in range(4)
    ]
    for p in procs:
        p.start()
    arrivals = [t for _ in procs for t in out.get(timeout=60)]
    for p in procs:
        p.join(timeout=30)
    assert _max_in_window(arrivals, 1.0) <= capacity
    span = max(arrivals) - min(arrivals)
    achieved = (len(arrivals) - capacity) / span  # the first window is free capacity
    # A limiter that wastes capacity (the old burst-then-wait design reached 57%) fails this;
    # the margin below 100% is for a loaded 2-core machine, where the benchmark's 95%+ is measured.
    assert achieved >= 0.75 * capacity, (len(arrivals), span)
    for key in redis_client.scan_iter(match=prefix + "*"):
        redis_client.delete(key)
