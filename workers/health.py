"""The health job: proves a worker is alive, connected to Redis and to the database."""

from __future__ import annotations

import os
import socket
import time

from sqlalchemy import text

from marketing_ui.core.db import get_engine
from marketing_ui.core.system_status import heartbeat_key

__all__ = ["health_check", "heartbeat_key"]


def health_check() -> dict[str, object]:
    """Proves DB and Redis work from a worker: run at every worker's start, and as the job the
    Settings page enqueues and waits for."""
    from marketing_ui.core.redis_client import get_redis

    with get_engine().connect() as conn:
        conn.execute(text("select 1"))
    result = {"host": socket.gethostname(), "pid": os.getpid(), "at": time.time()}
    get_redis().hset(heartbeat_key(), mapping={k: str(v) for k, v in result.items()})
    return result
