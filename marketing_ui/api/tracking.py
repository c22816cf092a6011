"""The open pixel (/t/o/{id}/{sig}.gif) and click redirect (/t/c/{id}/{sig}?u=...).

Both check the HMAC from marketing_ui.core.tracking first. The pixel always answers with the GIF
(a broken image helps nobody) but records only genuine hits; the click redirects only to the
destination that was signed for that delivery, so it is not an open redirect.

Writes are buffered by default (see TrackingBuffer): a hit costs a deque append, a background
thread moves hits to Redis and writes them in bulk. TRACKING_WRITE_MODE=sync writes one row per
request instead (the benchmark's baseline).

Each hit carries what its user agent says about it (core/engagement.py: a proxy, a scanner, a
bot, or "" for a mail client), as a short reason code; the user agent itself is never kept.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
from collections import deque

import redis
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from marketing_ui.api.app import ROUTES
from marketing_ui.core.db import session_scope
from marketing_ui.core.engagement import classify_user_agent
from marketing_ui.core.events import (
    FLUSH_BATCH,
    encode_tracking_event,
    flush_tracking_buffer,
    record_click,
    record_open,
    tracking_buffer_key,
    write_tracking_items,
)
from marketing_ui.core.redis_client import get_redis
from marketing_ui.core.tracking import verify_click, verify_open

MAX_ID_DIGITS = 18  # fits BIGINT
MAX_SIG_CHARS = 64
MAX_URL_CHARS = 4000
FLUSH_INTERVAL_S = 0.1

log = logging.getLogger(__name__)

PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_NO_CACHE = {
    "Cache-Control": "no-store, no-cache, must-revalidate, private, max-age=0",
    "Pragma": "no-cache",
    "Expires": "0",
}
_BAD_LINK = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width,initial-scale=1"><title>Invalid link</title>'
    '</head><body style="font:16px/1.5 system-ui,sans-serif;max-width:30rem;margin:15vh auto;'
    'padding:0 1rem"><h1 style="font-size:1.3rem">This link is not valid</h1>'
    "<p>The link is incomplete or has been changed. Please open it again from the original "
    "email.</p></body></html>"
)


def write_mode() -> str:
    """'buffered' (default) or 'sync', from TRACKING_WRITE_MODE."""
    return "sync" if os.environ.get("TRACKING_WRITE_MODE", "").lower() == "sync" else "buffered"


def plausible_signature(sig: str) -> bool:
    """Cheap shape check before the HMAC (compare_digest refuses non-ASCII strings)."""
    return 0 < len(sig) <= MAX_SIG_CHARS and sig.isascii()


def delivery_id_of(raw: str) -> int | None:
    """A positive id that fits BIGINT, or None: huge or odd ids never reach the database."""
    if not raw.isdigit() or not raw.isascii() or len(raw) > MAX_ID_DIGITS:
        return None
    value = int(raw)
    return value or None


class TrackingBuffer:
    """Hits wait in memory for at most one tick, then go to Redis in one RPUSH and on to the DB.

    A request only appends to a deque (no I/O on the event loop). A daemon thread per process,
    started lazily, moves the deque to the shared Redis list every tick and writes batches from
    that list with `flush_tracking_buffer`. If Redis is down the thread writes the deque to the
    database directly, so hits are not lost while it is away.
    """

    def __init__(self) -> None:
        self._pending: deque[bytes] = deque()
        self._flush_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def add(self, kind: str, delivery_id: int, url: str = "", user_agent_reason: str = "") -> None:
        self._pending.append(encode_tracking_event(kind, delivery_id, url, user_agent_reason))
        if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
            self._start()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="tracking-buffer", daemon=True
                )
                self._thread.start()

    def _take_pending(self) -> list[bytes]:
        items: list[bytes] = []
        while self._pending and len(items) < FLUSH_BATCH:
            items.append(self._pending.popleft())
        return items

    def flush_once(self) -> int:
        """Move pending hits to Redis and write one batch; returns events written."""
        with self._flush_lock:
            written = 0
            client = get_redis()
            key = tracking_buffer_key()
            redis_up = True
            while items := self._take_pending():
                try:
                    if redis_up:
                        client.rpush(key, *items)
                        continue
                except redis.RedisError:
                    redis_up = False
                with session_scope() as session:
                    written += write_tracking_items(session, items)
            if not redis_up:
                return written
            try:
                with session_scope() as session:
                    return flush_tracking_buffer(session, client, key)
            except redis.RedisError:
                return written  # Redis went away: whatever it holds waits for its return

    def drain(self) -> int:
        """Write everything buffered so far (the lock makes 'empty' mean 'committed')."""
        total = 0
        while written := self.flush_once():
            total += written
        return total

    def _run(self) -> None:
        while True:
            try:
                written = self.flush_once()
            except Exception as exc:  # noqa: BLE001 - keep flushing after a DB or Redis hiccup
                log.warning("tracking flush failed: %s", type(exc).__name__)
                written = 0
                time.sleep(2)
            if written < FLUSH_BATCH:
                time.sleep(FLUSH_INTERVAL_S)


buffer = TrackingBuffer()


def _record_sync(kind: str, delivery_id: int, url: str, user_agent_reason: str) -> None:
    try:
        with session_scope() as session:
            if kind == "o":
                record_open(session, delivery_id, user_agent_reason=user_agent_reason)
            else:
                record_click(session, delivery_id, url, user_agent_reason=user_agent_reason)
    except Exception as exc:  # noqa: BLE001 - a failed write must not break the image or link
        log.warning("tracking write failed: %s", type(exc).__name__)


async def _record(request: Request, kind: str, delivery_id: int, url: str = "") -> None:
    reason = classify_user_agent(request.headers.get("user-agent"))
    if write_mode() == "buffered":
        buffer.add(kind, delivery_id, url, reason)
    else:
        await run_in_threadpool(_record_sync, kind, delivery_id, url, reason)


async def open_pixel(request: Request) -> Response:
    delivery_id = delivery_id_of(request.path_params["delivery_id"])
    sig = request.path_params["sig"]
    if delivery_id and plausible_signature(sig) and verify_open(delivery_id, sig):
        await _record(request, "o", delivery_id)
    return Response(PIXEL_GIF, media_type="image/gif", headers=_NO_CACHE)


async def click(request: Request) -> Response:
    delivery_id = delivery_id_of(request.path_params["delivery_id"])
    sig = request.path_params["sig"]
    destinations = request.query_params.getlist("u")
    if (
        delivery_id is None
        or not plausible_signature(sig)
        or len(destinations) != 1
        or len(destinations[0]) > MAX_URL_CHARS
        or not verify_click(delivery_id, destinations[0], sig)
    ):
        return HTMLResponse(_BAD_LINK, status_code=400, headers=_NO_CACHE)
    await _record(request, "c", delivery_id, destinations[0])
    return RedirectResponse(destinations[0], status_code=302, headers=_NO_CACHE)


ROUTES.extend(
    [
        Route("/t/o/{delivery_id}/{sig}.gif", open_pixel, methods=["GET"]),
        Route("/t/c/{delivery_id}/{sig}", click, methods=["GET"]),
    ]
)
