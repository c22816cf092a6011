"""A real RQ worker process picks up the health job and proves DB and Redis work."""

import os
import subprocess
import sys

import redis

from marketing_ui.core.config import PROJECT_ROOT
from marketing_ui.core.redis_client import get_redis, reset_redis_cache
from marketing_ui.core.system_status import worker_check
from workers.health import health_check, heartbeat_key
from workers.queues import DEFAULT, get_queue


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
