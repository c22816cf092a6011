"""Worker heartbeats: a claim names the worker process holding it, so a dead worker's batch is
taken over within seconds instead of after the 120 s lease.

Each `python -m workers.run` process gets an id and a thread that refreshes
`<prefix>:send:worker:<id>` every REFRESH_S with a TTL of TTL_S. A claim stamps the id on its
deliveries (`Delivery.lease_holder`). The periodic tick (every 5 s) takes back in-flight
deliveries whose holder's key is gone (marketing_ui/core/sending/sweeper.py): a SIGKILLed worker's batch is
queued again within TTL_S + one tick, about 10 s (TAKEOVER_S bounds it). The lease stays the
fallback for claims without a holder (a worker started some other way).

A process that never started a heartbeat (tests calling jobs in-process, the app) has no id and
stamps nothing, so it is never taken over for a missing heartbeat.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable

from marketing_ui.core import redis_keys
from marketing_ui.core.redis_client import get_redis

log = logging.getLogger(__name__)

TTL_S = 5.0  # a holder whose key is older than this is dead
REFRESH_S = 1.5
TAKEOVER_S = 15  # what the progress page promises: TTL_S + a tick (5 s) + scheduling slack

_worker_id: str | None = None


def key(worker_id: str) -> str:
    return redis_keys.send("worker", worker_id)


def current_id() -> str | None:
    """This process's holder id while its heartbeat runs, else None (claims stamp no holder)."""
    return _worker_id


def beat(worker_id: str) -> None:
    get_redis().set(key(worker_id), str(os.getpid()), px=int(TTL_S * 1000))


def start() -> str:
    """Beat once (so the first claim already has a live holder), then keep beating in a thread."""
    global _worker_id
    worker_id = f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    beat(worker_id)
    _worker_id = worker_id

    def run() -> None:
        while True:
            time.sleep(REFRESH_S)
            try:
                beat(worker_id)
            except Exception:  # noqa: BLE001 - Redis blips; the next beat tries again
                log.exception("heartbeat failed")

    threading.Thread(target=run, name="send-heartbeat", daemon=True).start()
    return worker_id


def dead(holders: Iterable[str]) -> set[str]:
    """The holders among these whose heartbeat is gone (one round trip)."""
    holders = sorted(set(holders))
    if not holders:
        return set()
    with get_redis().pipeline(transaction=False) as pipe:
        for holder in holders:
            pipe.exists(key(holder))
        found = pipe.execute()
    return {h for h, alive in zip(holders, found, strict=True) if not alive}
