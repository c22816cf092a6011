"""Provider request limits as the provider counts them: at most N requests in ANY sliding window.

Resend allows 5 requests per second (each carrying up to 100 emails); a Twilio long code sends
1 message segment per second. Providers count what *arrives* in any window of one second, not
in calendar seconds, so the limiter keeps a short log in Redis, shared by every worker on every
host, of each request's permit: when it was granted and when its answer came back.

The rule: a request may start when fewer than N (by weight) earlier requests are still *active*,
where a request is active from its grant until one window after its answer. Why this can never
exceed the provider's limit, whatever the network latency: suppose N+1 requests arrive within
less than one window. Take the one granted last, at time g. Every other one was granted before
g, and arrived after g minus one window (they all arrive within one window of each other, and
the last one arrives after g). So each of them was either still waiting for its answer at g, or
got it after it arrived, which is after g minus one window: all N were active at g, and the
last one could not have been granted. The price is one round trip per window (a few percent at
loopback latency): the next request waits for an answer, not only for a start time.

A request whose answer never came back (its worker died) counts as active until its grant plus
`inflight_cap_s`, longer than any client timeout, so a dead worker cannot lower the limit for
long nor let a request through early. Redis's own clock (`TIME`) is the only clock, so worker
clocks may drift. See docs/rate_limiter.md.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis

# KEYS[1]: zset id -> end of activity (µs; for a request in flight: grant + cap, an upper bound)
# KEYS[2]: hash   id -> weight, "f:"..id -> 1 while in flight, "x:"..id -> extra hold (µs),
#                 "until" -> no grant before this (a provider's Retry-After)
# ARGV: weight, capacity, window (µs), inflight cap (µs), id, extra hold (µs), record (1, or 0 to
# only look). Returns {granted, wait_us, uncertain, now_us}: granted 1 with wait 0, or 0 with the time until
# enough capacity frees; `uncertain` 1 when that time is only an upper bound (an answer pending).
_ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local weight = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - window))
for _, id in ipairs(old) do
  redis.call('HDEL', KEYS[2], id, 'f:' .. id, 'x:' .. id)
end
if #old > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - window)) end
local penalty = tonumber(redis.call('HGET', KEYS[2], 'until')) or 0
if penalty > now then
  return {0, penalty - now, 0, now}
end
local active = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local used = 0
for i = 1, #active, 2 do
  used = used + (tonumber(redis.call('HGET', KEYS[2], active[i])) or 1)
end
if used + weight <= capacity then
  if ARGV[7] ~= '1' then return {1, 0, 0, now} end
  local id = ARGV[5]
  redis.call('ZADD', KEYS[1], now + cap, id)
  redis.call('HSET', KEYS[2], id, weight, 'f:' .. id, 1, 'x:' .. id, ARGV[6])
  local ttl = math.ceil((cap + window) / 1000) + 1000
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], math.max(ttl, redis.call('PTTL', KEYS[2])))
  return {1, 0, 0, now}
end
-- Oldest activity ends first: free entries in score order until the new weight fits.
local freed = 0
for i = 1, #active, 2 do
  local id = active[i]
  freed = freed + (tonumber(redis.call('HGET', KEYS[2], id)) or 1)
  if used - freed + weight <= capacity then
    local ends = tonumber(active[i + 1]) + window
    local uncertain = redis.call('HEXISTS', KEYS[2], 'f:' .. id)
    return {0, math.max(ends - now, 1), uncertain, now}
  end
end
return {0, window, 1, now}
"""

# KEYS as above; ARGV: id. The answer came back: activity ends one window after now (plus the
# extra hold of a long SMS). Returns 1 if the permit was still known.
_RELEASE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local id = ARGV[1]
if not redis.call('ZSCORE', KEYS[1], id) then return 0 end
local extra = tonumber(redis.call('HGET', KEYS[2], 'x:' .. id)) or 0
redis.call('ZADD', KEYS[1], 'XX', now + extra, id)
redis.call('HDEL', KEYS[2], 'f:' .. id)
return 1
"""

# KEYS[2] only; ARGV: pause (µs). No grant for anyone before now + pause (never shortened).
_PENALIZE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wanted = now + math.ceil(tonumber(ARGV[1]))
local current = tonumber(redis.call('HGET', KEYS[2], 'until')) or 0
if wanted > current then
  redis.call('HSET', KEYS[2], 'until', string.format('%.0f', wanted))
  current = wanted
end
local ttl = math.ceil((current - now) / 1000) + 1000
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return current
"""

_MICRO = 1_000_000
POLL_S = 0.005  # how often a caller looks again while the answer it waits for is pending
INFLIGHT_CAP_S = 60.0  # longer than any provider client timeout (Resend 10 s, Twilio 15 s)


@dataclass(frozen=True)
class Limit:
    """`capacity` requests (by weight) in any sliding `window_s`; the provider's own terms."""

    capacity: int
    window_s: float

    @classmethod
    def per_second(cls, rate: float) -> Limit | None:
        """A rate as the provider states it; None for 0 (unlimited).

        Whole rates are exact (5/s: 5 in any second). A fractional rate is never rounded up:
        0.5/s is 1 in any 2 s, and 2.5/s is 2 in any second.
        """
        if not rate or rate <= 0 or math.isinf(rate):
            return None
        if rate >= 1:
            return cls(int(math.floor(rate)), 1.0)
        return cls(1, 1.0 / rate)

    @property
    def per_second_rate(self) -> float:
        return self.capacity / self.window_s


@dataclass(frozen=True)
class Permit:
    id: str
    granted_at_s: float  # Redis time


class RateLimited(Exception):
    """No permit within the time the caller was willing to wait; `wait_s` says how long more."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"rate limit: next request in {wait_s:.1f} s")
        self.wait_s = wait_s


class RequestLimiter:
    """One provider key (an account, or a sending number); cheap to build per job."""

    def __init__(
        self,
        client: redis.Redis,
        key: str,
        limit: Limit | None,
        prefix: str = "rl:",
        inflight_cap_s: float = INFLIGHT_CAP_S,
    ) -> None:
        self.key = prefix + key
        self.limit = limit
        self._keys = [self.key + ":active", self.key + ":meta"]
        self._cap_us = math.ceil(inflight_cap_s * _MICRO)
        self._acquire = client.register_script(_ACQUIRE_LUA)
        self._release = client.register_script(_RELEASE_LUA)
        self._penalize = client.register_script(_PENALIZE_LUA)

    @property
    def unlimited(self) -> bool:
        return self.limit is None

    def _weight(self, weight: float) -> tuple[int, int]:
        """(weight counted in the window, extra hold in µs): a request heavier than the whole
        capacity (an SMS of 3 segments at 1 segment/s) holds the full capacity for longer."""
        assert self.limit is not None
        if weight <= self.limit.capacity:
            return max(1, math.ceil(weight)), 0
        extra_windows = weight / self.limit.capacity - 1
        return self.limit.capacity, math.ceil(extra_windows * self.limit.window_s * _MICRO)

    def try_acquire(
        self, weight: float = 1, record: bool = True
    ) -> tuple[Permit | None, float, bool]:
        """One look: (permit, 0, False) or (None, seconds to wait, whether that is a bound).

        With `record=False` nothing is taken: a granted look returns a permit with no id.
        """
        if self.limit is None:
            return Permit("", time.time()), 0.0, False
        counted, extra = self._weight(weight)
        permit_id = uuid.uuid4().hex
        granted, wait_us, uncertain, now_us = self._acquire(
            keys=self._keys,
            args=[
                counted,
                self.limit.capacity,
                math.ceil(self.limit.window_s * _MICRO),
                self._cap_us,
                permit_id,
                extra,
                1 if record else 0,
            ],
        )
        if granted:
            return Permit(permit_id if record else "", int(now_us) / _MICRO), 0.0, False
        return None, int(wait_us) / _MICRO, bool(uncertain)

    def acquire(self, weight: float = 1, max_wait_s: float = 2.0) -> Permit:
        """A permit, waiting at most `max_wait_s`; RateLimited (nothing taken) otherwise."""
        deadline = time.monotonic() + max_wait_s
        while True:
            permit, wait_s, uncertain = self.try_acquire(weight)
            if permit is not None:
                return permit
            left = deadline - time.monotonic()
            if not uncertain and wait_s > left:
                raise RateLimited(wait_s)
            if left <= 0:
                raise RateLimited(max(wait_s, POLL_S))
            time.sleep(max(0.0, min(wait_s, left, POLL_S if uncertain else wait_s)))

    def release(self, permit: Permit) -> None:
        """The provider answered (or the request failed): the window starts counting now."""
        if self.limit is not None and permit.id:
            self._release(keys=self._keys, args=[permit.id])

    @contextmanager
    def request(self, weight: float = 1, max_wait_s: float = 2.0) -> Iterator[Permit]:
        """Around one HTTP request to the provider: permit before, release after, always."""
        permit = self.acquire(weight, max_wait_s)
        try:
            yield permit
        finally:
            self.release(permit)

    def wait_estimate(self) -> float:
        """Seconds until a request of weight 1 could start (0 now); a read, nothing taken."""
        if self.limit is None:
            return 0.0
        permit, wait_s, _ = self.try_acquire(1, record=False)
        return 0.0 if permit is not None else wait_s

    def penalize(self, seconds: float) -> None:
        """The provider said slow down (Retry-After): nobody on this key before now + seconds."""
        if seconds > 0 and self.limit is not None:
            self._penalize(keys=self._keys, args=[math.ceil(min(seconds, 86_400) * _MICRO)])
