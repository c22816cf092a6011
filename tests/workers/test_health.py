"""Workers prove they are alive: at start and by answering the health job; never red while alive."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from rq import Worker

from marketing_ui.core.config import PROJECT_ROOT, reset_settings_cache
from marketing_ui.core.jobs import DEFAULT
from marketing_ui.core.redis_client import get_redis, reset_redis_cache
from marketing_ui.core.system_status import CHECKING, DOWN, OK, worker_check
from marketing_ui.infra.rq_jobs import get_queue, queue_name
from workers.health import health_check, heartbeat_key


def test_worker_answers_the_health_job(redis_client: redis.Redis) -> None:
    reset_redis_cache()
    get_redis().delete(heartbeat_key())
    assert not worker_check().ok
    job = get_queue(DEFAULT).enqueue(health_check)
    done = subprocess.run(
        [sys.executable, "-m", "workers.run", "--burst", "--queues", DEFAULT],
        cwd=PROJECT_ROOT,
        env={**os.environ},
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0
    job.refresh()
    assert job.is_finished
    assert job.return_value()["pid"] != os.getpid()
    assert worker_check().ok


@pytest.fixture
def own_prefix(monkeypatch: pytest.MonkeyPatch, redis_client: redis.Redis) -> Iterator[str]:
    """Queues and keys of this test alone: other tests' workers (the browser tests') stay out."""
    prefix = f"health{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("QUEUE_PREFIX", prefix)
    reset_settings_cache()
    yield prefix
    for key in redis_client.scan_iter(match=f"{prefix}:*", count=1000):
        redis_client.delete(key)


def test_a_worker_that_just_started_is_green_without_a_health_job(own_prefix: str) -> None:
    reset_redis_cache()
    get_redis().delete(heartbeat_key())
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-m", "workers.run", "--burst", "--no-periodic", "--queues", DEFAULT],
        cwd=PROJECT_ROOT,
        env={**os.environ},
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0
    assert float(get_redis().hget(heartbeat_key(), "at")) >= started
    assert worker_check().state == OK


def test_a_registered_worker_without_proof_is_checking_not_red(own_prefix: str) -> None:
    reset_redis_cache()
    r = get_redis()
    r.delete(heartbeat_key())
    assert worker_check().state == DOWN  # nobody registered at all
    worker = Worker([queue_name(DEFAULT)], connection=r, name=f"test-{uuid.uuid4().hex[:8]}")
    worker.register_birth()
    try:
        assert worker_check().state == CHECKING  # the Settings page now asks it
        worker.set_state("busy")
        assert worker_check(unanswered_s=15).state == CHECKING  # it answers after its job
        worker.set_state("idle")
        unanswered = worker_check(unanswered_s=15)
        assert unanswered.state == DOWN and "none answered" in unanswered.detail
        health_check()
        assert worker_check().state == OK
    finally:
        worker.register_death()
