"""Brute-force brakes for logins that a stranger cannot turn into a lock-out of the real user.

Three counters in Redis, shared by every app process (see docs/architecture.md, Accounts):
- per (username, client IP): three free failures, then a growing wait before the next try
  (2 s, 4 s, 8 s, ... at most 15 minutes); a stranger failing on `admin` slows only himself;
- per client IP: at most 20 failures per 15 minutes, whatever the usernames (one address
  spraying many accounts);
- per username, from everywhere: at most 100 failures per hour (many addresses guessing one
  account). It does not apply to an address the user has signed in from in the last 30 days,
  so a distributed attack cannot keep the owner out of a place they use.

An attempt is counted as a failure before the password is checked (one atomic script) and
forgiven when it turns out right, so parallel guesses cannot slip through between check and
count. A refused attempt is not counted: waiting always works.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import redis

from marketing_ui.core import redis_keys
from marketing_ui.core.redis_client import get_redis


@dataclass(frozen=True)
class LoginLimits:
    """Per-pair delays, per-IP and per-username ceilings."""

    free_failures_per_pair: int = 3
    max_delay_s: int = 15 * 60
    pair_memory_s: int = 24 * 3600  # a pair's failures are forgotten a day after the last one
    failures_per_ip: int = 20
    ip_window_s: int = 15 * 60
    failures_per_user: int = 100
    user_window_s: int = 3600
    known_ip_s: int = 30 * 24 * 3600  # an address the user signed in from stays trusted this long


@dataclass(frozen=True)
class LoginDecision:
    """Whether this attempt may go ahead; when not, how long to wait and what to tell the user."""

    allowed: bool
    retry_after_s: int = 0
    message: str = ""


ALLOWED = LoginDecision(True)

# KEYS: pair count, pair wait, ip count, user count, known (user, ip).
# ARGV: free failures, max delay, pair memory, ip limit, ip window, user limit, user window.
# Returns nil when allowed (the attempt is then counted as a failure), else {which, seconds}.
_ATTEMPT_SCRIPT = """
local wait = redis.call('PTTL', KEYS[2])
if wait > 0 then
  return {1, math.ceil(wait / 1000)}
end
if tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[4]) then
  return {2, redis.call('TTL', KEYS[3])}
end
if tonumber(redis.call('GET', KEYS[4]) or '0') >= tonumber(ARGV[6])
    and redis.call('EXISTS', KEYS[5]) == 0 then
  return {3, redis.call('TTL', KEYS[4])}
end
local failures = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
local free = tonumber(ARGV[1])
if failures >= free then
  local delay = math.min(2 ^ math.min(failures - free + 1, 30), tonumber(ARGV[2]))
  redis.call('SET', KEYS[2], 1, 'EX', math.floor(delay))
end
redis.call('SET', KEYS[3], 0, 'EX', ARGV[5], 'NX')
redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[4], 0, 'EX', ARGV[7], 'NX')
redis.call('INCR', KEYS[4])
return nil
"""

# KEYS: pair count, pair wait, ip count, user count, known. ARGV: known lifetime.
# The attempt was counted as a failure; it was not one.
_SUCCESS_SCRIPT = """
redis.call('DEL', KEYS[1], KEYS[2])
for i = 3, 4 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then
    redis.call('DECR', KEYS[i])
  end
end
redis.call('SET', KEYS[5], 1, 'EX', ARGV[1])
return nil
"""

_MESSAGES = {
    1: "Too many failed attempts for this account from your address",
    2: "Too many failed logins from your address",
    3: "Too many failed logins for this account; it can still sign in from an address it used before",
}


def wait_text(seconds: int) -> str:
    """How long to wait, as the login page says it."""
    if seconds < 60:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    minutes = -(-seconds // 60)
    return f"about {minutes} minute{'' if minutes == 1 else 's'}"


class LoginLimiter:
    """Counts login failures per (username, IP), per IP and per username."""

    def __init__(
        self, r: redis.Redis, limits: LoginLimits | None = None, prefix: str | None = None
    ) -> None:
        self.limits = limits or LoginLimits()
        self._prefix = redis_keys.prefix() if prefix is None else prefix
        self._attempt = r.register_script(_ATTEMPT_SCRIPT)
        self._success = r.register_script(_SUCCESS_SCRIPT)

    def keys(self, username: str, ip: str) -> list[str]:
        """pair count, pair wait, ip count, user count, known (user, ip): in the scripts' order."""
        # Hashed: usernames may hold any character, and need not sit in Redis in clear.
        user = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
        ip = ip[:64]  # from the server, but bound the key anyway
        base = f"{self._prefix}login"
        return [
            f"{base}:pair:{user}:{ip}",
            f"{base}:wait:{user}:{ip}",
            f"{base}:ip:{ip}",
            f"{base}:user:{user}",
            f"{base}:known:{user}:{ip}",
        ]

    def attempt(self, username: str, ip: str) -> LoginDecision:
        """Refuse, or let this attempt go ahead and count it as a failure until proven right."""
        lim = self.limits
        refused = self._attempt(
            keys=self.keys(username, ip),
            args=[
                lim.free_failures_per_pair,
                lim.max_delay_s,
                lim.pair_memory_s,
                lim.failures_per_ip,
                lim.ip_window_s,
                lim.failures_per_user,
                lim.user_window_s,
            ],
        )
        if not refused:
            return ALLOWED
        which, seconds = int(refused[0]), max(int(refused[1]), 1)
        return LoginDecision(
            False, seconds, f"{_MESSAGES[which]}. Try again in {wait_text(seconds)}."
        )

    def succeeded(self, username: str, ip: str) -> None:
        """The password was right: forgive this attempt and remember the address as known."""
        self._success(keys=self.keys(username, ip), args=[self.limits.known_ip_s])


def login_limiter() -> LoginLimiter:
    """The app's limiter on the app's Redis, with the default limits."""
    return LoginLimiter(get_redis())
