"""Loopback fakes of provider APIs; `FakeServer` holds the HTTP plumbing and fault knobs they share."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import parse_qsl, urlsplit


class Reply:
    """Status, headers and raw body of one response."""

    def __init__(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}


class Request:
    """What a handler needs from one HTTP request, decoupled from http.server."""

    def __init__(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        body: bytes,
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


class FakeServer:
    """A ThreadingHTTPServer on 127.0.0.1:<random port> with runtime-settable faults.

    Knobs: `fail_next(n, status, retry_after)` queues exact failures; `error_rate_500` and
    `error_rate_429` fail at random (seeded); `delay_s` stalls every response (client
    timeouts, before the request is handled); `slow_answer_s` with `slow_answer_rate` (seeded)
    or `slow_next(n)` handles a request at once and answers it only after `slow_answer_s`: a
    client timing out meanwhile never hears that its message was accepted, the outcome a
    timeout leaves unknown; `accepted_then_500` records new messages but answers 500 (the crash window);
    `requests_per_s` enforces the provider's request limit the way providers count it: more
    than that many requests arriving within any sliding second are answered 429.
    `max_requests_in_window()` and `rate_limited` report what the provider saw.
    """

    def __init__(self, seed: int = 0) -> None:
        self.error_rate_500 = 0.0
        self.error_rate_429 = 0.0
        self.delay_s = 0.0
        self.slow_answer_s = 0.0
        self.slow_answer_rate = 0.0
        self.slow_answers = 0  # requests answered late so far
        self._slow_queue = 0
        self.accepted_then_500 = False
        self.requests_per_s: int | None = None
        self.rate_limited = 0  # requests answered 429 by the enforced limit
        self._arrivals: list[float] = []  # monotonic arrival time of every request
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._lock = threading.RLock()
        self._random = random.Random(seed)
        self._slow_random = random.Random(seed + 1)  # its own stream: errors stay as seeded
        self._fail_queue: list[tuple[int, float | None]] = []
        self._requests = 0
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle -------------------------------------------------------------------
    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # headers and body leave in one write (no Nagle stall per request)

            def _serve(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command,
                    split.path,
                    parse_qsl(split.query, keep_blank_values=True),
                    dict(self.headers.items()),
                    self.rfile.read(length) if length else b"",
                )
                reply = fake._dispatch(request)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout); the work above still happened

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # request lines would put phone numbers on stderr

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> int:
        """How many HTTP requests arrived, including failed and injected ones."""
        with self._lock:
            return self._requests

    # Faults -----------------------------------------------------------------------
    def fail_next(self, n: int, status: int, retry_after: float | None = None) -> None:
        with self._lock:
            self._fail_queue.extend([(status, retry_after)] * n)

    def slow_next(self, n: int, seconds: float) -> None:
        """Handle the next n requests at once but answer each only after `seconds`."""
        with self._lock:
            self._slow_queue += n
            self.slow_answer_s = seconds

    def _answer_late(self) -> float:
        with self._lock:
            if self._slow_queue:
                self._slow_queue -= 1
            elif not (self.slow_answer_rate and self._slow_random.random() < self.slow_answer_rate):
                return 0.0
            self.slow_answers += 1
            return self.slow_answer_s

    def _injected_fault(self) -> tuple[int, float | None] | None:
        with self._lock:
            if self._fail_queue:
                return self._fail_queue.pop(0)
            roll = self._random.random()
            if roll < self.error_rate_429:
                return 429, 1.0
            if roll < self.error_rate_429 + self.error_rate_500:
                return 500, None
            return None

    def arrivals(self) -> list[float]:
        """Arrival times (monotonic seconds) of every request, in order."""
        with self._lock:
            return sorted(self._arrivals)

    def max_requests_in_window(self, window_s: float = 1.0) -> int:
        """The most requests that arrived within any sliding window of `window_s`."""
        with self._lock:
            times = sorted(self._arrivals)
        worst = start = 0
        for end, t in enumerate(times):
            while t - times[start] >= window_s:
                start += 1
            worst = max(worst, end - start + 1)
        return worst

    def _over_limit(self, now: float) -> bool:
        """Called under the lock with this request's arrival already counted."""
        limit = self.requests_per_s
        if not limit:
            return False
        recent = 0
        for t in reversed(self._arrivals):
            if now - t >= 1.0:
                break
            recent += 1
        return recent > limit

    def _dispatch(self, request: Request) -> Reply:
        with self._lock:
            self._requests += 1
            now = time.monotonic()
            self._arrivals.append(now)
            over = self._over_limit(now)
            if over:
                self.rate_limited += 1
            delay = self.delay_s
        if over:
            return self.error_reply(429, 1.0)
        if delay:
            self._stopping.wait(delay)
        fault = self._injected_fault()
        if fault is not None:
            return self.error_reply(*fault)
        reply = self.handle(request)
        late = self._answer_late()
        if late:
            self._stopping.wait(late)  # accepted already; the client may have given up
        return reply

    # Subclasses -------------------------------------------------------------------
    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    def error_reply(self, status: int, retry_after: float | None = None) -> Reply:
        raise NotImplementedError
