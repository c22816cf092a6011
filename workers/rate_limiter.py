"""One GCRA rate limiter per provider, kept in Redis so every worker on every host shares it.

State per limiter is one Redis hash (`<prefix><key>`) holding, in microseconds of Redis's
own clock (`TIME`), the theoretical arrival time of the next token (`tat`), the interval
it was computed with (`interval`), and the end of a provider-imposed pause (`until`).
Rate and burst travel with every call, so a settings change applies on the next call.
See docs/rate_limiter.md for the reasoning.
"""

from __future__ import annotations

import math
import time
from typing import NamedTuple

import redis

# KEYS[1]: the limiter hash.  ARGV: rate (tokens/s), burst, n, max_wait (microseconds).
# Returns {granted (0/1), wait_us, at_us}: when granted, the tokens are the caller's from
# at_us (Redis time) and wait_us = at_us - now; when refused, nothing was written and
# wait_us says how long until they would be granted.
_RESERVE_LUA = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = 1000000 / tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local max_wait = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tat', 'interval', 'until')
local tat = tonumber(state[1]) or 0
local old_interval = tonumber(state[2]) or interval
local penalty_until = tonumber(state[3]) or 0
if tat > now and old_interval ~= interval then
  -- the rate changed: keep the number of tokens owed, re-space them at the new rate
  tat = now + (tat - now) / old_interval * interval
end
-- after a penalty, resume at one token per interval rather than with a full burst
local base = math.max(tat, now, penalty_until + (burst - 1) * interval)
local new_tat = base + n * interval
local wait = math.ceil(new_tat - burst * interval - now)
if wait > max_wait then
  return {0, wait, 0}
end
if wait < 0 then wait = 0 end
new_tat = math.ceil(new_tat)
redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', new_tat),
  'interval', string.format('%.17g', interval))
redis.call('PEXPIRE', KEYS[1], math.ceil((new_tat - now) / 1000) + 1000)
return {1, wait, now + wait}
"""

# KEYS[1]: the limiter hash.  ARGV: pause (microseconds), extra lifetime (milliseconds).
# Moves `until` to now + pause unless it is already later; returns the new `until`.
_PENALIZE_LUA = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wanted = now + math.ceil(tonumber(ARGV[1]))
local current = tonumber(redis.call('HGET', KEYS[1], 'until')) or 0
if wanted > current then
  redis.call('HSET', KEYS[1], 'until', string.format('%.0f', wanted))
  current = wanted
end
local ttl = math.ceil((current - now) / 1000) + tonumber(ARGV[2])
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return current
"""

_MICRO = 1_000_000
_LONGEST_WAIT_S = 86_400.0  # a bound for "wait forever", so the microsecond count stays exact


def _micros(seconds: float) -> int:
    return math.floor(min(max(seconds, 0.0), _LONGEST_WAIT_S) * _MICRO)


class Grant(NamedTuple):
    """Outcome of a reservation, in seconds, timed by Redis's clock."""

    granted: bool
    wait_s: float  # granted: sleep this long before using the tokens; refused: wait before retrying
    at_s: float  # granted: Redis time (epoch seconds) from which the tokens may be used; else 0.0


class RateLimiter:
    """Shared limit for one provider key; cheap to build, so build one per job from settings."""

    def __init__(
        self, client: redis.Redis, key: str, rate_per_s: float, burst: int, prefix: str = "rl:"
    ) -> None:
        self.key = prefix + key
        self.rate_per_s = 0.0
        self.burst = 1
        self.set_rate(rate_per_s, burst)
        self._reserve = client.register_script(_RESERVE_LUA)
        self._penalize = client.register_script(_PENALIZE_LUA)

    def set_rate(self, rate_per_s: float, burst: int | None = None) -> None:
        """Change this instance's limit; the stored state is re-spaced on the next call."""
        if math.isnan(rate_per_s) or 0 < rate_per_s < 1 / _LONGEST_WAIT_S:
            raise ValueError("rate_per_s must be <= 0 (unlimited) or at least one per day")
        burst = self.burst if burst is None else burst
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate_per_s = float(rate_per_s)
        self.burst = int(burst)

    @property
    def unlimited(self) -> bool:
        """No limit configured: callers skip Redis entirely."""
        return self.rate_per_s <= 0 or math.isinf(self.rate_per_s)

    def reserve(self, n: int = 1, max_wait_s: float = 0.0) -> Grant:
        """Atomically book n tokens usable within max_wait_s, or book nothing and say when."""
        if n < 1:
            raise ValueError("n must be at least 1")
        if self.unlimited:
            return Grant(True, 0.0, 0.0)
        granted, wait_us, at_us = self._reserve(
            keys=[self.key],
            args=[repr(self.rate_per_s), self.burst, n, _micros(max_wait_s)],
        )
        return Grant(bool(granted), int(wait_us) / _MICRO, int(at_us) / _MICRO)

    def try_acquire(self, n: int = 1) -> float:
        """0.0 if n tokens were taken now, else the seconds to wait (nothing taken)."""
        if n > self.burst and not self.unlimited:
            raise ValueError(f"cannot take {n} tokens at once with burst {self.burst}; use acquire")
        grant = self.reserve(n, 0.0)
        return 0.0 if grant.granted else grant.wait_s

    def acquire(self, n: int = 1, max_wait_s: float = 2.0) -> bool:
        """Wait for n tokens if that takes at most max_wait_s; False (nothing taken) otherwise.

        The wait is booked in one atomic call, so waiting workers hold their place in line
        instead of polling; n larger than burst is booked as n consecutive token slots and
        returns once the last one is due.
        """
        grant = self.reserve(n, max_wait_s)
        if grant.granted and grant.wait_s > 0:
            time.sleep(grant.wait_s)
        return grant.granted

    def penalize(self, seconds: float) -> None:
        """The provider said slow down: no token for anyone before now + seconds (never shortened)."""
        if not seconds > 0:
            return
        interval_ms = 0.0 if self.unlimited else 1000 / self.rate_per_s
        extra_ms = math.ceil((self.burst - 1) * interval_ms) + 1000
        pause_us = math.ceil(min(seconds, _LONGEST_WAIT_S) * _MICRO)
        self._penalize(keys=[self.key], args=[pause_us, extra_ms])
