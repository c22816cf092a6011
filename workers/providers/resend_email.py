"""Email through Resend's batch endpoint, with idempotency keys so a retried batch sends nothing twice.

The `resend` SDK keeps its configuration in module globals (`api_key`, `api_url`,
`default_http_client`) and reads them while a request runs. Every call therefore sets them
and talks to Resend while holding `_SDK_LOCK`: two providers (or threads) in one process
never see each other's key or URL. The cost is that Resend calls in one process are
serialized, which matches RQ's one-job-per-process model.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import resend
from resend.exceptions import ResendError
from resend.http_client_requests import RequestsClient

from workers.providers.base import (
    OutgoingEmail,
    SendResult,
    is_transient_status,
    parse_retry_after,
    redact,
)

_SDK_LOCK = threading.Lock()
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
# Resend reports an invalid recipient as a validation error naming the `to` field.
_TO_FIELD = re.compile(r"`to`|'to'|\"to\"|\bto field\b|\brecipient", re.IGNORECASE)


class ResendEmailProvider:
    """Sends up to 100 emails per call; a rejected batch falls back to one-by-one sends."""

    name = "resend"
    max_batch = 100

    def __init__(
        self,
        api_key: str,
        base_url: str,
        timeout_s: float = 10,
        pace: Callable[[], None] | None = None,
    ) -> None:
        """`pace` is called before each one-by-one send of a rejected batch (the batch call
        itself is paced by the caller), so a shared rate limiter can block instead of
        letting up to 100 extra requests run into 429s."""
        self._pace = pace
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
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
        try:
            with self._sdk():
                response = resend.Batch.send(
                    [_params(m) for m in messages],  # type: ignore[misc]
                    {"idempotency_key": idempotency_key},
                )
        except ResendError as exc:
            status = _status(exc)
            if status in (400, 422):
                return self._send_one_by_one(messages, idempotency_key)
            failure = _failure(exc, status, messages)
            return [replace(failure, key=m.key) for m in messages]
        ids = [item.get("id") for item in response.get("data") or []]
        if len(ids) != len(messages):
            # Cannot map ids to messages; the same key makes a retry return the stored answer.
            return [
                SendResult(key=m.key, ok=False, transient=True, error="batch response mismatch")
                for m in messages
            ]
        return [
            SendResult(key=m.key, ok=True, provider_id=i)
            for m, i in zip(messages, ids, strict=True)
        ]

    def _send_one_by_one(
        self, messages: Sequence[OutgoingEmail], idempotency_key: str
    ) -> list[SendResult]:
        """One bad address must not sink the other 99; each send has its own derived key."""
        results: list[SendResult] = []
        for index, message in enumerate(messages):
            if self._pace is not None:
                self._pace()
            try:
                with self._sdk():
                    response = resend.Emails.send(
                        _params(message),  # type: ignore[arg-type]
                        {"idempotency_key": f"{idempotency_key}:{message.key}"},
                    )
            except ResendError as exc:
                status = _status(exc)
                failure = _failure(exc, status, [message])
                results.append(replace(failure, key=message.key))
                if failure.transient:
                    # The provider is struggling; the rest would only add load. Retry them later.
                    results.extend(replace(failure, key=m.key) for m in messages[index + 1 :])
                    return results
                continue
            results.append(SendResult(key=message.key, ok=True, provider_id=response["id"]))
        return results


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
    # HttpClientError is the SDK's wrapper for timeouts and refused connections.
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
    )
