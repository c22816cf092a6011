"""Brute-force brakes for the counter: redemption attempts and unknown codes per user and per IP.

Fixed windows in Redis, shared by every app process. Two kinds of counter:
- attempts: every short-code lookup, token lookup and Redeem press counts;
- misses: a code or token that matches no coupon counts again, under a much smaller limit,
  because guessing codes is what a miss looks like (~40-bit codes, so a few misses per quarter
  hour make guessing hopeless).
A refused attempt is not counted, so waiting out the window always works.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from marketing_ui.core import redis_keys
from marketing_ui.core.redis_client import get_redis


@dataclass(frozen=True)
class RedeemLimits:
    """Limits per window. A coupon costs two attempts (look up, press Redeem), so a cashier may
    serve 30 customers per 5 minutes; a shop's staff usually share one IP, hence twice that."""

    attempts_per_user: int = 60
    attempts_per_ip: int = 120
    attempts_window_s: int = 5 * 60
    misses_per_user: int = 10
    misses_per_ip: int = 20
    misses_window_s: int = 15 * 60


@dataclass(frozen=True)
class LimitDecision:
    """Whether this attempt may go ahead; when not, how long to wait and what to tell staff."""

    allowed: bool
    retry_after_s: int = 0
    message: str = ""


ALLOWED = LimitDecision(True)

# KEYS: miss:user, miss:ip, try:user, try:ip. ARGV: limit, window for each key in that order.
# Returns nil when allowed (and counts the attempt on the two "try" keys), else {index, ttl}
# of the first counter at its limit (0-based).
_ATTEMPT_SCRIPT = """
for i = 1, 4 do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  if count >= tonumber(ARGV[2 * i - 1]) then
    return {i - 1, redis.call('TTL', KEYS[i])}
  end
end
for i = 3, 4 do
  redis.call('SET', KEYS[i], 0, 'EX', ARGV[2 * i], 'NX')
  redis.call('INCR', KEYS[i])
end
return nil
"""


def _minutes(seconds: int) -> int:
    return max(1, -(-seconds // 60))


class RedeemLimiter:
    """Counts attempts and misses per user id and per client IP."""

    def __init__(
        self, r: redis.Redis, limits: RedeemLimits | None = None, prefix: str | None = None
    ) -> None:
        self._r = r
        self.limits = limits or RedeemLimits()
        self._prefix = redis_keys.prefix() if prefix is None else prefix
        self._script = r.register_script(_ATTEMPT_SCRIPT)

    def _key(self, kind: str, who: str, value: str | int) -> str:
        # IPs come from the server, but bound the key anyway.
        return f"{self._prefix}redeem:{kind}:{who}:{str(value)[:64]}"

    def _windows(self, user_id: int, ip: str) -> list[tuple[str, int, int, str]]:
        """(key, limit, window, message) for each counter that can refuse an attempt."""
        lim = self.limits
        slow_down = "Too many redemption attempts"
        guessing = "Too many unknown codes"
        return [
            (
                self._key("miss", "user", user_id),
                lim.misses_per_user,
                lim.misses_window_s,
                guessing,
            ),
            (self._key("miss", "ip", ip), lim.misses_per_ip, lim.misses_window_s, guessing),
            (
                self._key("try", "user", user_id),
                lim.attempts_per_user,
                lim.attempts_window_s,
                slow_down,
            ),
            (self._key("try", "ip", ip), lim.attempts_per_ip, lim.attempts_window_s, slow_down),
        ]

    def attempt(self, user_id: int, ip: str) -> LimitDecision:
        """Check every counter and count this attempt only if none refuses: one atomic script."""
        windows = self._windows(user_id, ip)
        refused = self._script(
            keys=[key for key, *_ in windows],
            args=[v for _key, limit, window, _m in windows for v in (limit, window)],
        )
        if not refused:
            return ALLOWED
        index, ttl = int(refused[0]), int(refused[1])
        _key, _limit, window, message = windows[index]
        wait = ttl if ttl > 0 else window
        return LimitDecision(
            False, wait, f"{message}. Try again in about {_minutes(wait)} minute(s)."
        )

    def record_miss(self, user_id: int, ip: str) -> None:
        """A code or token that matched no coupon."""
        pipe = self._r.pipeline()
        for key, _limit, window, _message in self._windows(user_id, ip)[:2]:
            pipe.set(key, 0, ex=window, nx=True)  # the window starts at the first miss
            pipe.incr(key)
        pipe.execute()

    def clear_user(self, user_id: int) -> None:
        """Forget a user's counters (an admin unblocking a colleague)."""
        self._r.delete(self._key("miss", "user", user_id), self._key("try", "user", user_id))


def redeem_limiter() -> RedeemLimiter:
    """The app's limiter on the app's Redis, with the default limits."""
    return RedeemLimiter(get_redis())
