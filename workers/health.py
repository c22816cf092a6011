"""The health job: proves a worker is alive, connected to Redis and to the database."""

from __future__ import annotations

import os
import socket
import time

from sqlalchemy import text

from marketing_ui.core.config import get_settings
from marketing_ui.core.db import get_engine


def heartbeat_key() -> str:
    """Per deployment (queue prefix), so two apps sharing one Redis never vouch for each other."""
    return f"{get_settings().queue_prefix}:worker:last_health"


def health_check() -> dict[str, object]:
    """Runs on a worker; the Settings page enqueues it and waits for the result."""
    from marketing_ui.core.redis_client import get_redis

    with get_engine().connect() as conn:
        conn.execute(text("select 1"))
    result = {"host": socket.gethostname(), "pid": os.getpid(), "at": time.time()}
    get_redis().hset(heartbeat_key(), mapping={k: str(v) for k, v in result.items()})
    return result
