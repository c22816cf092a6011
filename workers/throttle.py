"""The rate-limit stage: tokens from the shared Redis limiter before every provider call.

One limiter per email provider and one per SMS provider + sending number, shared by every
worker on every host (workers/rate_limiter.py, docs/rate_limiter.md). Rates count messages,
as the Settings page says, so a batch of 100 emails takes 100 tokens.
"""

from __future__ import annotations

import time

from marketing_ui.core.app_settings import SendingLimits
from marketing_ui.core.config import get_settings
from marketing_ui.core.redis_client import get_redis
from workers.rate_limiter import RateLimiter

MAX_WAIT_S = 2.0  # longer than this and the job re-schedules itself instead of sleeping


def _limiter(key: str, rate_per_s: float, burst: int) -> RateLimiter:
    prefix = f"{get_settings().queue_prefix}:rl:"
    return RateLimiter(get_redis(), key, rate_per_s, burst, prefix=prefix)


def email_limiter(limits: SendingLimits, provider_name: str) -> RateLimiter:
    return _limiter(f"email:{provider_name}", limits.email_rate_per_s, limits.email_burst)


def sms_limiter(limits: SendingLimits, provider_name: str, from_number: str) -> RateLimiter:
    return _limiter(
        f"sms:{provider_name}:{from_number or 'default'}", limits.sms_rate_per_s, limits.sms_burst
    )


def take(limiter: RateLimiter, n: int) -> float:
    """0.0 once n tokens are ours (after a short sleep if due soon); else seconds to come back."""
    grant = limiter.reserve(n, MAX_WAIT_S)
    if not grant.granted:
        return max(grant.wait_s, 0.5)
    if grant.wait_s > 0:
        time.sleep(grant.wait_s)
    return 0.0
