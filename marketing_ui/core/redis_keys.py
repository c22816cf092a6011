"""Every Redis key and queue name the app uses, in one place.

All of them start with the deployment's `QUEUE_PREFIX`, so two installations sharing one Redis
never read each other's counters, locks, queues or workers' proofs of life.
"""

from __future__ import annotations

from marketing_ui.core.config import get_settings


def prefix() -> str:
    """`<QUEUE_PREFIX>:`: what every key of this deployment starts with."""
    return f"{get_settings().queue_prefix}:"


def key(*parts: object) -> str:
    """`<QUEUE_PREFIX>:part:part…`."""
    return prefix() + ":".join(str(p) for p in parts)


def queue(kind: str) -> str:
    """The RQ queue of one kind of work (email, sms, imports, default)."""
    return key(kind)


def send(campaign_id: int, *parts: object) -> str:
    """Live counters, progress cache and locks of one campaign's send."""
    return key("send", campaign_id, *parts)


def send_guard(campaign_id: int) -> str:
    """Throttles the deliverability guard's check of one campaign."""
    return send(campaign_id, "guard")


def send_tick_lock() -> str:
    """Held by the one scheduler tick running at a time."""
    return key("send", "tick-lock")


def automations_run() -> str:
    """Set for a minute by the automation engine's run: at most one run a minute, any workers."""
    return key("automations", "run")


def rate_limiter_prefix() -> str:
    """Provider request limiters' keys (see core/sending rate_limiter)."""
    return key("rl") + ":"


def worker_health() -> str:
    """The last proof of life a worker gave (hash: at, worker)."""
    return key("worker", "last_health")


def tracking_buffer() -> str:
    """Opens and clicks waiting to be written in one batch."""
    return key("tracking", "events")


def customer_export(digest: str) -> str:
    """One download ticket of a customer export (by its hash: Redis holds no usable ticket)."""
    return key("customer-export", digest)


def import_job(job_id: int) -> str:
    """The RQ job id of one import: one per import and deployment, so a re-queue replaces."""
    return f"{get_settings().queue_prefix}-import-{job_id}"


def signup_limit(kind: str, who: str) -> str:
    """A signup brake's counter: per client IP ("ip") or per address blind index ("address")."""
    return key("signup", kind, who[:64])
