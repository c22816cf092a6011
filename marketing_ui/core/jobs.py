"""Background jobs as the core sees them: kinds of work, and a port the process entry points fill.

The core says what should run (a job function named by its dotted path, its arguments, an id,
when) and never imports RQ. Each process entry point (the app, `workers.run`, the CLI, the
benchmarks, the tests) calls `marketing_ui.infra.rq_jobs.install()`, which puts the RQ
adapter behind `queue()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

DEFAULT = "default"
EMAIL = "email"
SMS = "sms"
IMPORTS = "imports"
ALL = (EMAIL, SMS, IMPORTS, DEFAULT)  # one queue per kind: email, SMS and imports never wait
# behind each other


class JobState(StrEnum):
    """Where a job is (RQ's own names)."""

    QUEUED = "queued"
    SCHEDULED = "scheduled"
    DEFERRED = "deferred"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    STOPPED = "stopped"
    CANCELED = "canceled"


ENDED_BADLY = (JobState.FAILED, JobState.STOPPED, JobState.CANCELED)


@dataclass(frozen=True)
class Job:
    """One call of a job function (`function` is a dotted path, e.g. workers.tasks.…)."""

    function: str
    args: tuple[object, ...]
    job_id: str
    timeout_s: int | None = None  # None: the queue's default
    result_ttl_s: int | None = None  # None: the queue's default; 0: keep no result
    failure_ttl_s: int | None = None


class JobQueue(Protocol):
    def enqueue(self, kind: str, jobs: Sequence[Job], at: datetime | None = None) -> None:
        """Queue these jobs on the `kind` queue, now or (when `at` is given) at that time."""

    def waiting_job_ids(self, kind: str) -> list[str]:
        """Ids of the jobs queued or scheduled on the `kind` queue."""

    def promote_overdue(self, kind: str, grace_s: float) -> int:
        """Queue scheduled jobs whose time passed more than `grace_s` ago; how many moved."""

    def state(self, job_id: str) -> JobState | None:
        """Where the job is, or None when no such job exists (any more)."""

    def worker_states(self) -> list[str]:
        """One entry per worker registered on this deployment's queues (busy, idle, …)."""


_installed: list[JobQueue] = []


def install(job_queue: JobQueue) -> None:
    """Called once per process by its entry point; a second call replaces the first."""
    _installed[:] = [job_queue]


def queue() -> JobQueue:
    if not _installed:
        raise RuntimeError(
            "No job queue is installed in this process: its entry point must call "
            "marketing_ui.infra.rq_jobs.install()."
        )
    return _installed[0]
