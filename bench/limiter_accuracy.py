"""How closely worker processes sharing one Redis request limiter hold the provider's limit.

Each worker sends as fast as permits allow; every simulated request takes 0-40 ms to answer
and "arrives" at a random moment in between (what a provider's own sliding window counts).
Reports the achieved requests/s, its share of the limit, and the most arrivals in any sliding
second (the provider's view: must never exceed the limit).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import threading
import time
import uuid
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

import redis

from marketing_ui.core.sending.rate_limiter import Limit, RateLimited, RequestLimiter

BENCH_PREFIX = "bench:"
MAX_LATENCY_S = 0.04


def _send(redis_url: str, key: str, limit: int, seconds: float, start: Barrier, out: Queue) -> None:
    """One worker process with two sending threads; sends back each request's arrival time."""
    client = redis.Redis.from_url(redis_url)
    limiter = RequestLimiter(client, key, Limit(limit, 1.0), prefix=BENCH_PREFIX)
    rng = random.Random()
    arrivals: list[float] = []
    start.wait()
    deadline = time.monotonic() + seconds

    def thread() -> None:
        while time.monotonic() < deadline:
            try:
                permit = limiter.acquire(max_wait_s=2.0)
            except RateLimited:
                continue
            latency = rng.uniform(0.0, MAX_LATENCY_S)
            time.sleep(latency)
            arrivals.append(permit.granted_at_s + rng.uniform(0.0, latency))
            limiter.release(permit)

    threads = [threading.Thread(target=thread) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client.close()
    out.put(arrivals)


def worst_window(times_s: list[float], window_s: float = 1.0) -> int:
    """Most arrivals in any half-open sliding window [t, t + window_s)."""
    times = sorted(times_s)
    worst = begin = 0
    for end, t in enumerate(times):
        while t - times[begin] >= window_s:
            begin += 1
        worst = max(worst, end - begin + 1)
    return worst


def measure_limiter(
    redis_url: str, limit_per_s: int = 50, seconds: float = 60, workers: int = 4
) -> dict[str, float]:
    """Run `workers` processes against one fresh limiter key for `seconds`; summarise arrivals."""
    key = f"limiter:{uuid.uuid4().hex}"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(workers)
    out = ctx.Queue()
    args = (redis_url, key, limit_per_s, seconds, start, out)
    processes = [ctx.Process(target=_send, args=args) for _ in range(workers)]
    try:
        for process in processes:
            process.start()
        arrivals = sorted(t for _ in processes for t in out.get(timeout=seconds + 60))
        for process in processes:
            process.join()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        client = redis.Redis.from_url(redis_url)
        for suffix in (":active", ":meta"):
            client.delete(BENCH_PREFIX + key + suffix)
        client.close()
    span = arrivals[-1] - arrivals[0] if arrivals else 0.0
    achieved = (len(arrivals) - limit_per_s) / span if span > 0 else 0.0
    return {
        "limiter_limit_per_s": limit_per_s,
        "limiter_achieved_per_s": round(achieved, 2),
        "limiter_efficiency": round(achieved / limit_per_s, 3),
        "limiter_worst_1s": worst_window(arrivals, 1.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--quick", action="store_true", help="10 s instead of 60 s")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    result = measure_limiter(
        args.redis_url,
        limit_per_s=args.limit,
        seconds=10 if args.quick else 60,
        workers=args.workers,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
