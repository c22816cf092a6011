"""Live counters of a send in Redis: outcomes, recent errors, activity (fast, approximate; the rows are the truth)."""

import json
import time

from marketing_ui.core import redis_keys
from marketing_ui.core.clock import utcnow
from marketing_ui.core.redis_client import get_redis

ERRORS_KEPT = 20


def key(campaign_id: int, *parts: str) -> str:
    """A key of this campaign's send (counters, progress cache, errors, activity)."""
    return redis_keys.send(campaign_id, *parts)


def note_outcomes(campaign_id: int, channel: str, counts: dict[str, int]) -> dict[str, int]:
    """Add outcomes to the live counters (rate per second, totals); returns the campaign totals.

    Redis is a fast path only: a Redis restart loses these and the DB stays the truth.
    """
    r = get_redis()
    sent = counts.get("sent", 0)
    second = int(time.time())
    with r.pipeline() as pipe:
        if sent:
            rate_key = key(campaign_id, "rate", str(second))
            pipe.hincrby(rate_key, channel, sent)
            pipe.expire(rate_key, 120)
        for outcome, n in counts.items():
            if n:
                pipe.hincrby(key(campaign_id, "counts"), f"{channel}:{outcome}", n)
        pipe.expire(key(campaign_id, "counts"), 7 * 86400)
        pipe.hgetall(key(campaign_id, "counts"))
        totals = pipe.execute()[-1]
    return {k.decode(): int(v) for k, v in totals.items()}


def note_errors(campaign_id: int, channel: str, reasons: list[str]) -> None:
    """Keep the last few error reasons for the progress view (reasons are already PII-free)."""
    if not reasons:
        return
    r = get_redis()
    at = utcnow().isoformat(timespec="seconds")
    errors_key = key(campaign_id, "errors")
    with r.pipeline() as pipe:
        for reason in reasons[-ERRORS_KEPT:]:
            pipe.lpush(
                errors_key, json.dumps({"at": at, "channel": channel, "reason": reason[:300]})
            )
        pipe.ltrim(errors_key, 0, ERRORS_KEPT - 1)
        pipe.expire(errors_key, 7 * 86400)
        pipe.execute()


def mark_active(campaign_id: int, channel: str) -> None:
    """A batch job touched this campaign: the sweeper leaves its pending deliveries alone a while."""
    get_redis().set(key(campaign_id, "active", channel), "1", ex=30)


def recently_active(campaign_id: int, channel: str) -> bool:
    return bool(get_redis().exists(key(campaign_id, "active", channel)))


def forget_progress(campaign_id: int) -> None:
    get_redis().delete(key(campaign_id, "progress"))
