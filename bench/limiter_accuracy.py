"""How closely worker processes sharing one Redis limiter hold its rate, as senders see it."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
import uuid
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

import redis

from workers.rate_limiter import RateLimiter

BENCH_PREFIX = "bench:"


def _take_tokens(
    redis_url: str,
    key: str,
    limit_per_s: float,
    burst: int,
    seconds: float,
    start: Barrier,
    out: Queue,
) -> None:
    """One worker: acquire as fast as allowed; sends back the wall-clock time of each grant."""
    client = redis.Redis.from_url(redis_url)
    limiter = RateLimiter(client, key, limit_per_s, burst, prefix=BENCH_PREFIX)
    granted: list[float] = []
    start.wait()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if limiter.acquire(1, max_wait_s=2.0):
            granted.append(time.time())  # same host for every worker: one clock
    client.close()
    out.put(granted)


def worst_window(times_s: list[float], window_s: float = 1.0) -> int:
    """Most grants in any closed window [t, t + window_s]."""
    times = sorted(times_s)
    worst = end = 0
    for begin, t in enumerate(times):
        while end < len(times) and times[end] <= t + window_s:
            end += 1
        worst = max(worst, end - begin)
    return worst


def measure_limiter(
    redis_url: str, limit_per_s: float = 50, seconds: float = 60, workers: int = 4, burst: int = 1
) -> dict[str, float]:
    """Run `workers` processes against one fresh limiter key for `seconds`; summarise grants."""
    key = f"limiter:{uuid.uuid4().hex}"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(workers)
    out = ctx.Queue()
    args = (redis_url, key, limit_per_s, burst, seconds, start, out)
    processes = [ctx.Process(target=_take_tokens, args=args) for _ in range(workers)]
    try:
        for process in processes:
            process.start()
        grants = sorted(t for _ in processes for t in out.get(timeout=seconds + 60))
        for process in processes:
            process.join()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        client = redis.Redis.from_url(redis_url)
        client.delete(BENCH_PREFIX + key)
        client.close()
    span = grants[-1] - grants[0] if grants else 0.0
    achieved = (len(grants) - 1) / span if span > 0 else 0.0
    return {
        "limiter_limit_per_s": limit_per_s,
        "limiter_achieved_per_s": round(achieved, 2),
        "limiter_worst_1s": worst_window(grants, 1.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--quick", action="store_true", help="10 s instead of 60 s")
    parser.add_argument("--limit", type=float, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--burst", type=int, default=1)
    args = parser.parse_args()
    result = measure_limiter(
        args.redis_url,
        limit_per_s=args.limit,
        seconds=10 if args.quick else 60,
        workers=args.workers,
        burst=args.burst,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
