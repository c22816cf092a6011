"""Email through Resend's batch endpoint, with idempotency keys so a retried batch sends nothing twice.

The `resend` SDK keeps its configuration in module globals (`api_key`, `api_url`,
`default_http_client`) and reads them while a request runs. Every call therefore sets them
and talks to Resend while holding `_SDK_LOCK`: two providers (or threads) in one process
never see each other's key or URL. The cost is that Resend calls in one process are
serialized, which matches RQ's one-job-per-process model.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import requests
import resend
from resend.exceptions import ResendError
from resend.http_client_requests import RequestsClient

from marketing_ui.core.sending.providers.base import (
    GATE_WAIT_S,
    OPEN_GATE,
    OutgoingEmail,
    RequestGate,
    SendResult,
    is_transient_status,
    parse_retry_after,
    rate_limited,
    redact,
    unanswered,
)
from marketing_ui.core.sending.rate_limiter import RateLimited

_SDK_LOCK = threading.Lock()
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
# Resend reports an invalid recipient as a validation error naming the `to` field.
_TO_FIELD = re.compile(r"`to`|'to'|\"to\"|\bto field\b|\brecipient", re.IGNORECASE)


class ResendEmailProvider:
    """Sends up to 100 emails per request; one bad recipient never sinks the other 99.

    Batches go out in Resend's permissive validation mode: valid emails are sent, invalid ones
    come back by index with the reason, in the same single request. A server that validates
    strictly anyway (the whole batch rejected, 422) gets the named recipient taken out and the
    rest sent again, or, when the answer names no one, the batch split in halves until it does;
    every one of those requests goes through the same gate as the first.
    """

    name = "resend"
    max_batch = 100

    def __init__(
        self,
        api_key: str,
        base_url: str,
        timeout_s: float = 10,
        gate: RequestGate = OPEN_GATE,
    ) -> None:
        self._gate = gate
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s
        self._http = RequestsClient(timeout=timeout_s)  # type: ignore[arg-type]  # float is fine

    @contextmanager
    def _sdk(self) -> Iterator[None]:
        with _SDK_LOCK:
            resend.api_key = self._api_key
            resend.api_url = self._base_url
            resend.default_http_client = self._http
            yield

    def send_batch(
        self, messages: Sequence[OutgoingEmail], idempotency_key: str
    ) -> list[SendResult]:
        if not messages:
            return []
        if len(messages) > self.max_batch:
            raise ValueError(f"at most {self.max_batch} messages per batch")
        return self._send(list(messages), idempotency_key, first=True)

    def _send(
        self, messages: list[OutgoingEmail], idempotency_key: str, first: bool = False
    ) -> list[SendResult]:
        """One request (permissive), then what a strict rejection needs, each request gated.

        No permit for the first request raises RateLimited (nothing was sent: the caller gives
        the batch back); for a later one, the messages it carried wait as rate limited.
        """
        params = [_params(m) for m in messages]  # built before the permit: it is held briefly
        try:
            with self._gate.request(max_wait_s=GATE_WAIT_S), self._sdk():
                response = resend.Batch.send(
                    params,  # type: ignore[arg-type]
                    {"idempotency_key": idempotency_key, "batch_validation": "permissive"},
                )
        except RateLimited as exc:
            if first:
                raise
            return [rate_limited(m.key, exc.wait_s) for m in messages]
        except ResendError as exc:
            no_answer = _no_answer(exc, self._timeout_s)
            if no_answer is not None:
                return [unanswered(m.key, no_answer) for m in messages]
            status = _status(exc)
            if status in (400, 422):
                return self._without_rejected(messages, idempotency_key, exc)
            failure = _failure(exc, status, messages)
            return [replace(failure, key=m.key) for m in messages]
        return _results(messages, response)

    def _without_rejected(
        self, messages: list[OutgoingEmail], idempotency_key: str, exc: ResendError
    ) -> list[SendResult]:
        """A strict 422 sent nothing: fail the recipient it names and send the others again."""
        text = exc.message or ""
        named = {i for i, m in enumerate(messages) if m.to and m.to in text}
        if not named and len(messages) == 1:
            named = {0}
        if named:
            rejected = {i: _rejection(text, messages[i]) for i in named}
            rest = [m for i, m in enumerate(messages) if i not in named]
            sent = iter(self._send(rest, _derived_key(idempotency_key, rest)) if rest else [])
            return [rejected[i] if i in rejected else next(sent) for i in range(len(messages))]
        half = len(messages) // 2
        first, second = messages[:half], messages[half:]
        return self._send(first, _derived_key(idempotency_key, first)) + self._send(
            second, _derived_key(idempotency_key, second)
        )


def _derived_key(idempotency_key: str, messages: Sequence[OutgoingEmail]) -> str:
    """The key of a retry with fewer members: deterministic, so a replay repeats it exactly."""
    digest = hashlib.sha256(",".join(m.key for m in messages).encode()).hexdigest()[:16]
    return f"{idempotency_key[:64]}-{digest}"


def _results(messages: list[OutgoingEmail], response: Any) -> list[SendResult]:
    """Permissive answer: ids for the created emails in request order, errors by index."""
    errors = {
        e["index"]: str(e.get("message") or "rejected")
        for e in (response.get("errors") or [])
        if isinstance(e, dict) and isinstance(e.get("index"), int)
    }
    ids = [item.get("id") for item in response.get("data") or []]
    accepted = [i for i in range(len(messages)) if i not in errors]
    if len(ids) != len(accepted):
        # Cannot map ids to messages; the same key makes a retry return the stored answer.
        return [
            SendResult(key=m.key, ok=False, transient=True, error="batch response mismatch")
            for m in messages
        ]
    by_index = dict(zip(accepted, ids, strict=True))
    return [
        SendResult(key=m.key, ok=True, provider_id=by_index[i])
        if i in by_index
        else _rejection(errors[i], m)
        for i, m in enumerate(messages)
    ]


def _rejection(reason: str, message: OutgoingEmail) -> SendResult:
    """One recipient Resend will not take, with its reason (the address itself redacted)."""
    return SendResult(
        key=message.key,
        ok=False,
        error=redact(f"resend rejected this recipient: {reason}", message.to),
        suppress=bool(_TO_FIELD.search(reason)),
    )


def _params(message: OutgoingEmail) -> dict[str, Any]:
    params: dict[str, Any] = {
        "from": message.from_,
        "to": [message.to],
        "subject": message.subject,
        "html": message.html,
        "headers": dict(message.headers),
    }
    if message.text:
        params["text"] = message.text
    if message.tags:
        params["tags"] = [
            {"name": _TAG_UNSAFE.sub("_", k)[:256], "value": _TAG_UNSAFE.sub("_", v)[:256]}
            for k, v in message.tags.items()
        ]
    return params


def _no_answer(exc: ResendError, timeout_s: float) -> str | None:
    """How the request got no answer (the SDK wraps the transport error as a "500"), or None.

    The SDK raises its ResendError while handling the `requests` exception, so the original is
    on the exception's context chain.
    """
    if exc.error_type != "HttpClientError":
        return None
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, requests.RequestException):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, requests.ConnectTimeout) or (
        isinstance(cause, requests.ConnectionError)
        and "NewConnectionError" in str(cause)  # refused: the request never left
    ):
        return "resend unreachable (could not connect): not sent yet, retrying"
    if isinstance(cause, requests.Timeout):
        return (
            f"resend timeout: no answer within {timeout_s:g} s, outcome unknown "
            "(the retry reuses the idempotency key)"
        )
    if isinstance(cause, requests.RequestException):
        return (
            f"resend connection lost ({type(cause).__name__}): outcome unknown "
            "(the retry reuses the idempotency key)"
        )
    return "resend request failed without an answer: outcome unknown"


def _status(exc: ResendError) -> int:
    try:
        return int(str(exc.code))
    except ValueError:
        return 500


def _header(headers: dict[str, str], name: str) -> str | None:
    """The SDK copies response headers into a plain dict, losing case-insensitivity."""
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def _failure(exc: ResendError, status: int, messages: Sequence[OutgoingEmail]) -> SendResult:
    """Classify one error response; callers `replace` the empty key per message."""
    addresses = [m.to for m in messages]
    error = redact(f"resend {status} {exc.error_type}: {exc.message}", *addresses)
    # A replay that overlaps the first request with the same key: Resend says "try again".
    transient = is_transient_status(status) or exc.error_type in (
        "HttpClientError",
        "concurrent_idempotent_requests",
    )
    retry_after = parse_retry_after(_header(exc.headers, "retry-after")) if status == 429 else None
    suppress = status in (400, 422) and bool(_TO_FIELD.search(exc.message or ""))
    return SendResult(
        key="",
        ok=False,
        transient=transient,
        error=error,
        retry_after_s=retry_after,
        suppress=suppress and not transient,
        rate_limited=status == 429,
    )
