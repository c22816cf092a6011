"""SMS through Twilio's Messages REST API, spoken with httpx rather than the `twilio` SDK.

Why not the SDK: it logs every request's query parameters at INFO (the `To` number of a
message lookup is PII), and its exceptions drop the response headers (Retry-After). The
HTTP API is three calls, so plain httpx keeps full control of timeouts and logging.

Twilio has no idempotency key for sending. A send that timed out or got a 5xx may still
have been accepted, so before retrying such a message the pipeline asks `find_sent`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from marketing_ui.core.clock import as_utc
from marketing_ui.core.sending.providers.base import (
    GATE_WAIT_S,
    OPEN_GATE,
    OutgoingSms,
    ProviderUnavailable,
    RequestGate,
    SendResult,
    is_transient_status,
    parse_retry_after,
    redact,
    sms_weight,
    unanswered,
)

# Invalid 'To' number, not a mobile number, recipient replied STOP: the address itself is bad.
SUPPRESS_CODES = frozenset({21211, 21614, 21610})
_LOOKUP_PAGES = 3


class _StripQueryFromHttpxLog(logging.Filter):
    """httpx logs each request URL at INFO; a Messages lookup carries the phone number in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                a.copy_with(query=None) if isinstance(a, httpx.URL) else a for a in record.args
            )
        return True


_httpx_logger = logging.getLogger("httpx")
if not any(isinstance(f, _StripQueryFromHttpxLog) for f in _httpx_logger.filters):
    _httpx_logger.addFilter(_StripQueryFromHttpxLog())


class TwilioSmsProvider:
    """One Twilio account and sending number; the httpx client is reused across sends."""

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        base_url: str,
        from_number: str,
        timeout_s: float = 10,
        gate: RequestGate = OPEN_GATE,
    ) -> None:
        self.from_number = from_number
        self._gate = gate  # the sending number's limit, in message segments per second
        self._timeout_s = timeout_s
        self._messages_path = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            auth=(account_sid, auth_token),
            timeout=timeout_s,
            headers={"Accept": "application/json"},
        )

    def close(self) -> None:
        self._client.close()

    def send(self, message: OutgoingSms) -> SendResult:
        form = {"To": message.to, "From": message.from_ or self.from_number, "Body": message.body}
        if message.status_callback:
            form["StatusCallback"] = message.status_callback
        try:  # RateLimited (no permit in time) propagates: nothing reached Twilio
            with self._gate.request(sms_weight(message.body), max_wait_s=GATE_WAIT_S):
                response = self._client.post(self._messages_path, data=form)
        except httpx.TransportError as exc:
            return unanswered(message.key, _no_answer(exc, self._timeout_s))
        if response.is_success:
            return SendResult(key=message.key, ok=True, provider_id=str(response.json()["sid"]))
        status = response.status_code
        code, text = _error_of(response)
        transient = is_transient_status(status)
        return SendResult(
            key=message.key,
            ok=False,
            transient=transient,
            error=redact(f"twilio {status} code {code}: {text}", message.to),
            retry_after_s=parse_retry_after(response.headers.get("retry-after"))
            if status == 429
            else None,
            suppress=not transient and code in SUPPRESS_CODES,
            rate_limited=status == 429,
        )

    def find_sent(self, to: str, body: str, since: datetime) -> str | None:
        """The SID of a message to `to` with exactly `body` created at or after `since`, if any.

        Twilio's dates have whole seconds, so `since` is truncated to its second. Two lookups:
        by DateSent (the documented filter) and the newest messages to `to` without it, since a
        message still queued has no date_sent yet. Raises ProviderUnavailable when Twilio
        cannot answer: returning None then would invite a duplicate send.
        """
        since_utc = since.astimezone(UTC).replace(microsecond=0)
        lookups: list[dict[str, str | int]] = [
            {"To": to, "DateSent>": since_utc.date().isoformat(), "PageSize": 50},
            {"To": to, "PageSize": 50},
        ]
        for params in lookups:
            for item in self._list_messages(params):
                if (
                    item.get("body") == body
                    and item.get("to") == to
                    and _parse_date(item.get("date_created")) >= since_utc
                ):
                    return str(item["sid"])
        return None

    def _list_messages(self, params: dict[str, str | int]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        url: str | None = self._messages_path
        query: dict[str, str | int] | None = params
        for _ in range(_LOOKUP_PAGES):
            if url is None:
                break
            try:
                response = self._client.get(url, params=query)
            except httpx.TransportError as exc:
                raise ProviderUnavailable(f"twilio lookup failed: {type(exc).__name__}") from None
            if not response.is_success:
                code, text = _error_of(response)
                raise ProviderUnavailable(
                    redact(f"twilio lookup {response.status_code} code {code}: {text}")
                )
            page = response.json()
            found.extend(page.get("messages") or [])
            url, query = page.get("next_page_uri"), None  # next_page_uri carries its own query
        return found


def _no_answer(exc: httpx.TransportError, timeout_s: float) -> str:
    """How a send got no answer; the retry looks the message up first either way."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return "twilio unreachable (could not connect): not sent yet, retrying"
    if isinstance(exc, httpx.TimeoutException):
        return (
            f"twilio timeout: no answer within {timeout_s:g} s, outcome unknown "
            "(looked up before any resend)"
        )
    return (
        f"twilio connection lost ({type(exc).__name__}): outcome unknown "
        "(looked up before any resend)"
    )


def _error_of(response: httpx.Response) -> tuple[int | None, str]:
    """Twilio's error JSON is {code, message, more_info, status}; proxies may send anything."""
    try:
        payload = response.json()
    except ValueError:
        return None, response.reason_phrase
    if not isinstance(payload, dict):
        return None, response.reason_phrase
    code = payload.get("code")
    return (int(code) if isinstance(code, int | str) and str(code).isdigit() else None), str(
        payload.get("message") or response.reason_phrase
    )


def _parse_date(value: object) -> datetime:
    """RFC 2822 dates as Twilio returns them; unparseable ones sort before any `since`."""
    try:
        parsed = parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return datetime.min.replace(tzinfo=UTC)
    return as_utc(parsed)
