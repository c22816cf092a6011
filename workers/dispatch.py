"""The queue stage: batch jobs carrying delivery ids only, email and SMS on separate RQ queues.

A job id starts with `send-<campaign>-<channel>-`, so the sweeper can tell whether a campaign
still has work waiting in Redis (or lost it in a Redis restart) without any extra state.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from workers.queues import EMAIL, SMS, get_queue

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
    queue = get_queue(channel)
    chunks = chunk_groups(pairs, job_size(channel))
    function = _FUNCTIONS[channel]
    prefix = job_id_prefix(campaign_id, channel)
    if at is not None and at > datetime.now(UTC):
        for chunk in chunks:
            queue.enqueue_at(
                at,
                function,
                campaign_id,
                chunk,
                job_id=prefix + uuid.uuid4().hex,
                job_timeout=JOB_TIMEOUT_S,
                result_ttl=0,
                failure_ttl=FAILURE_TTL_S,
            )
        return len(chunks)
    jobs = [
        Queue.prepare_data(
            function,
            args=(campaign_id, chunk),
            job_id=prefix + uuid.uuid4().hex,
            timeout=JOB_TIMEOUT_S,
            result_ttl=0,
            failure_ttl=FAILURE_TTL_S,
        )
        for chunk in chunks
    ]
    for start in range(0, len(jobs), 500):
        with queue.connection.pipeline() as pipe:
            queue.enqueue_many(jobs[start : start + 500], pipeline=pipe)
            pipe.execute()
    return len(chunks)


def has_waiting_jobs(campaign_id: int, channel: str) -> bool:
    """Whether a queued or scheduled job for this campaign and channel exists in Redis."""
    queue = get_queue(channel)
    prefix = job_id_prefix(campaign_id, channel)
    if any(job_id.startswith(prefix) for job_id in queue.get_job_ids()):
        return True
    scheduled = ScheduledJobRegistry(queue=queue)
    return any(job_id.startswith(prefix) for job_id in scheduled.get_job_ids(cleanup=False))


def promote_overdue(grace_s: float = 5.0) -> int:
    """Move send jobs whose scheduled time passed more than `grace_s` ago onto their queue.

    RQ's scheduler normally does this, but after the worker holding its lock is killed, the
    others only take the lock over at their next maintenance run (minutes). The periodic
    tick calls this so retries and quiet-hours jobs never wait on that; a job moved by both
    runs twice, which the claim makes harmless.
    """
    moved = 0
    for kind in (EMAIL, SMS):
        queue = get_queue(kind)
        registry = ScheduledJobRegistry(queue=queue)
        job_ids = registry.get_jobs_to_schedule(int(time.time() - grace_s))
        for job_id, job in zip(
            job_ids, Job.fetch_many(job_ids, connection=queue.connection), strict=True
        ):
            if job is not None:
                queue.enqueue_job(job)
                moved += 1
            registry.remove(job_id)
    return moved
