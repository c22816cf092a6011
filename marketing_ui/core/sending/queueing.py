"""The queue stage: batch jobs carrying delivery ids only, email and SMS on separate queues.

A job id starts with `send-<campaign>-<channel>-`, so the sweeper can tell whether a campaign
still has work waiting in Redis (or lost it in a Redis restart) without any extra state.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from marketing_ui.core import jobs
from marketing_ui.core.jobs import EMAIL, SMS, Job

EMAIL_JOB_SIZE = 100  # one Resend batch call per job
SMS_JOB_SIZE = 10  # SMS go one by one; small jobs keep a paused or rate-limited send responsive
JOB_TIMEOUT_S = 600
FAILURE_TTL_S = 7 * 86400
_FUNCTIONS = {EMAIL: "workers.tasks.send_email_batch", SMS: "workers.tasks.send_sms_batch"}


def job_size(channel: str) -> int:
    return EMAIL_JOB_SIZE if channel == EMAIL else SMS_JOB_SIZE


def job_id_prefix(campaign_id: int, channel: str) -> str:
    return f"send-{campaign_id}-{channel}-"


def chunk_groups(rows: Iterable[tuple[int, str | None]], size: int) -> list[list[int]]:
    """Ids in chunks of at most `size`, never splitting a provider group (same send_key).

    A group is replayed under one idempotency key, so it must reach one job whole.
    """
    groups: dict[str, list[int]] = {}
    loose: list[int] = []
    for delivery_id, send_key in rows:
        if send_key:
            groups.setdefault(send_key, []).append(delivery_id)
        else:
            loose.append(delivery_id)
    chunks: list[list[int]] = []
    current: list[int] = []
    for members in groups.values():
        if current and len(current) + len(members) > size:
            chunks.append(current)
            current = []
        current.extend(members)
    for delivery_id in loose:
        if len(current) >= size:
            chunks.append(current)
            current = []
        current.append(delivery_id)
    if current:
        chunks.append(current)
    return chunks


def enqueue_deliveries(
    campaign_id: int,
    channel: str,
    rows: Sequence[tuple[int, str | None]] | Sequence[int],
    at: datetime | None = None,
) -> int:
    """Queue batch jobs for these deliveries (now, or at `at`); returns the number of jobs."""
    pairs = [(r, None) if isinstance(r, int) else (r[0], r[1]) for r in rows]
    if not pairs:
        return 0
    prefix = job_id_prefix(campaign_id, channel)
    batch = [
        Job(
            _FUNCTIONS[channel],
            (campaign_id, chunk),
            job_id=prefix + uuid.uuid4().hex,
            timeout_s=JOB_TIMEOUT_S,
            result_ttl_s=0,
            failure_ttl_s=FAILURE_TTL_S,
        )
        for chunk in chunk_groups(pairs, job_size(channel))
    ]
    jobs.queue().enqueue(channel, batch, at=at)
    return len(batch)


def has_waiting_jobs(campaign_id: int, channel: str) -> bool:
    """Whether a queued or scheduled job for this campaign and channel exists in Redis."""
    prefix = job_id_prefix(campaign_id, channel)
    return any(job_id.startswith(prefix) for job_id in jobs.queue().waiting_job_ids(channel))


def promote_overdue(grace_s: float = 5.0) -> int:
    """Move send jobs whose scheduled time passed more than `grace_s` ago onto their queue.

    RQ's scheduler normally does this, but after the worker holding its lock is killed, the
    others only take the lock over at their next maintenance run (minutes). The periodic
    tick calls this so retries and quiet-hours jobs never wait on that; a job moved by both
    runs twice, which the claim makes harmless.
    """
    return sum(jobs.queue().promote_overdue(kind, grace_s) for kind in (EMAIL, SMS))
