"""The RQ adapter behind core.jobs: queues named per deployment in Redis, job ids kept as given."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job as RqJob
from rq.registry import ScheduledJobRegistry

from marketing_ui.core import jobs, redis_keys
from marketing_ui.core.redis_client import get_redis

ENQUEUE_CHUNK = 500  # jobs per Redis pipeline


def queue_name(kind: str) -> str:
    return redis_keys.queue(kind)


def get_queue(kind: str) -> Queue:
    return Queue(queue_name(kind), connection=get_redis())


def all_queues() -> list[Queue]:
    return [get_queue(kind) for kind in jobs.ALL]


def _options(job: jobs.Job) -> dict[str, object]:
    options: dict[str, object] = {"job_id": job.job_id}
    if job.timeout_s is not None:
        options["job_timeout"] = job.timeout_s
    if job.result_ttl_s is not None:
        options["result_ttl"] = job.result_ttl_s
    if job.failure_ttl_s is not None:
        options["failure_ttl"] = job.failure_ttl_s
    return options


class RqJobQueue:
    """core.jobs.JobQueue on RQ."""

    def enqueue(self, kind: str, batch: Sequence[jobs.Job], at: datetime | None = None) -> None:
        queue = get_queue(kind)
        if at is not None and at > datetime.now(UTC):
            for job in batch:
                queue.enqueue_at(at, job.function, *job.args, **_options(job))
            return
        prepared = []
        for job in batch:
            options = _options(job)
            prepared.append(
                Queue.prepare_data(
                    job.function,
                    args=job.args,
                    job_id=job.job_id,
                    timeout=options.get("job_timeout"),
                    result_ttl=options.get("result_ttl"),
                    failure_ttl=options.get("failure_ttl"),
                )
            )
        for start in range(0, len(prepared), ENQUEUE_CHUNK):
            with queue.connection.pipeline() as pipe:
                queue.enqueue_many(prepared[start : start + ENQUEUE_CHUNK], pipeline=pipe)
                pipe.execute()

    def waiting_job_ids(self, kind: str) -> list[str]:
        queue = get_queue(kind)
        scheduled = ScheduledJobRegistry(queue=queue).get_job_ids(cleanup=False)
        return [*queue.get_job_ids(), *scheduled]

    def promote_overdue(self, kind: str, grace_s: float) -> int:
        """RQ's scheduler normally does this, but after the worker holding its lock is killed
        the others take the lock over only at their next maintenance run (minutes)."""
        queue = get_queue(kind)
        registry = ScheduledJobRegistry(queue=queue)
        job_ids = registry.get_jobs_to_schedule(int(time.time() - grace_s))
        moved = 0
        for job_id, job in zip(
            job_ids, RqJob.fetch_many(job_ids, connection=queue.connection), strict=True
        ):
            if job is not None:
                queue.enqueue_job(job)
                moved += 1
            registry.remove(job_id)
        return moved

    def state(self, job_id: str) -> jobs.JobState | None:
        try:
            status = RqJob.fetch(job_id, connection=get_redis()).get_status(refresh=True)
        except NoSuchJobError:
            return None
        return jobs.JobState(status.value) if status is not None else None

    def worker_states(self) -> list[str]:
        return [w.get_state() for w in Worker.all(queue=get_queue(jobs.DEFAULT))]


def install() -> None:
    jobs.install(RqJobQueue())
