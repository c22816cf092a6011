"""Signup brakes: per client IP, and per address so nobody can flood a stranger's inbox or phone.

Fixed windows in Redis, shared by every app process, counted by one atomic script (check, then
count; a refused attempt is not counted, so waiting out the window always works):
- per client IP: every POST /join and every text-to-join counts (honeypot hits too). A crowd
  on a restaurant's Wi-Fi shares one address, so the limit is generous;
- per address (blind index): at most a few confirmation messages a day. Past it the signup
  still answers with the same page (no enumeration) but sends nothing.
When Redis is unreachable the brakes let signups through (logged): the honeypot still works,
and a signup form that fails during an outage loses real customers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis

from marketing_ui.core import redis_keys
from marketing_ui.core.redeem_limits import ALLOWED, LimitDecision
from marketing_ui.core.redis_client import get_redis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignupLimits:
    per_ip: int = 30
    ip_window_s: int = 15 * 60
    messages_per_address: int = 5
    address_window_s: int = 24 * 3600


# KEYS[1]: the counter. ARGV: limit, window. nil when allowed (and counted), else the TTL.
_COUNT_SCRIPT = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then
  return redis.call('TTL', KEYS[1])
end
redis.call('SET', KEYS[1], 0, 'EX', ARGV[2], 'NX')
redis.call('INCR', KEYS[1])
return nil
"""


class SignupLimiter:
    def __init__(self, r: redis.Redis, limits: SignupLimits | None = None) -> None:
        self.limits = limits or SignupLimits()
        self._script = r.register_script(_COUNT_SCRIPT)

    def _count(self, key: str, limit: int, window: int) -> int | None:
        """None when allowed (and counted), else seconds until the window ends."""
        try:
            ttl = self._script(keys=[key], args=[limit, window])
        except redis.RedisError as exc:  # an outage must not close the door on customers
            log.warning("signup brake unavailable, allowing: %s", type(exc).__name__)
            return None
        if ttl is None:
            return None
        return int(ttl) if int(ttl) > 0 else window

    def attempt(self, ip: str) -> LimitDecision:
        """One signup from this client address (counted only when allowed)."""
        lim = self.limits
        wait = self._count(redis_keys.signup_limit("ip", ip), lim.per_ip, lim.ip_window_s)
        if wait is None:
            return ALLOWED
        minutes = max(1, -(-wait // 60))
        return LimitDecision(
            False,
            wait,
            f"Too many signups from your network. Please try again in about {minutes} minute(s).",
        )

    def may_message(self, address_bidx: str) -> bool:
        """Whether one more confirmation message may go to this address today."""
        lim = self.limits
        key = redis_keys.signup_limit("address", address_bidx)
        return self._count(key, lim.messages_per_address, lim.address_window_s) is None


def signup_limiter(limits: SignupLimits | None = None) -> SignupLimiter:
    """The app's limiter on the app's Redis."""
    return SignupLimiter(get_redis(), limits)
