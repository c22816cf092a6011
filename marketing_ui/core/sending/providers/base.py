"""The provider contract the send pipeline relies on, so it never depends on one vendor's SDK."""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from marketing_ui.core.clock import as_utc

MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class OutgoingEmail:
    """One rendered email; `key` is stable per delivery so retries reuse the same idempotency key."""

    key: str
    to: str
    from_: str
    subject: str
    html: str
    text: str
    headers: dict[str, str]
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OutgoingSms:
    """One SMS; `key` is stable per delivery."""

    key: str
    to: str
    from_: str
    body: str
    status_callback: str | None = None


@dataclass(frozen=True)
class SendResult:
    """The outcome for one message, already classified so the pipeline only decides what to do."""

    key: str
    ok: bool
    provider_id: str | None = None
    transient: bool = False
    error: str = ""
    retry_after_s: float | None = None
    suppress: bool = False
    # No answer came from the provider (timeout, connection refused or dropped): the request
    # may have been accepted, so the outcome is unknown. Never a failure by itself, and not an
    # attempt: the retry reuses the idempotency key (email) or looks the message up (SMS).
    unanswered: bool = False
    rate_limited: bool = False  # a 429, or no permit from our own limiter: nothing was sent


class RequestGate(Protocol):
    """Held around every HTTP request to a provider: the shared limit counts requests as the
    provider does (marketing_ui.core.sending.rate_limiter.RequestLimiter); raises RateLimited before any request."""

    def request(
        self, weight: float = 1, max_wait_s: float = ...
    ) -> AbstractContextManager[Any]: ...


class _OpenGate:
    """No limit (tests, or a limit of 0)."""

    def request(self, weight: float = 1, max_wait_s: float = 0.0) -> AbstractContextManager[None]:
        return nullcontext()


OPEN_GATE: RequestGate = _OpenGate()
GATE_WAIT_S = (
    15.0  # inside a provider call: wait this long for a permit, then report "rate limited"
)


def unanswered(key: str, error: str) -> SendResult:
    """The provider gave no answer; `error` says how (timeout, connection lost or refused)."""
    return SendResult(key=key, ok=False, transient=True, error=error, unanswered=True)


def rate_limited(key: str, wait_s: float) -> SendResult:
    """Not sent: no permit in time. Nothing reached the provider, so retrying is always safe."""
    return SendResult(
        key=key,
        ok=False,
        transient=True,
        error=f"rate limit: not sent yet, next request in {wait_s:.0f} s",
        rate_limited=True,
    )


def sms_weight(body: str) -> int:
    """An SMS counts by its segments: a sending number's limit is in segments per second."""
    from marketing_ui.core.sms import analyze_sms

    return max(1, analyze_sms(body).segments)


class ProviderUnavailable(RuntimeError):
    """A lookup could not get an answer (timeout, 5xx); 'not found' would be a dangerous guess."""


class EmailProvider(Protocol):
    name: str
    max_batch: int

    def send_batch(
        self, messages: Sequence[OutgoingEmail], idempotency_key: str
    ) -> list[SendResult]: ...


class SmsProvider(Protocol):
    name: str

    def send(self, message: OutgoingSms) -> SendResult: ...

    def find_sent(self, to: str, body: str, since: datetime) -> str | None: ...


# Shared classification helpers ---------------------------------------------------------

_EMAIL_RE = re.compile(r"[^\s<>()\"'`,;:]+@[^\s<>()\"'`,;:]+")
_PHONE_RE = re.compile(r"\+?\d[\d ().-]{6,}\d")


def redact(text: str, *values: str) -> str:
    """Provider messages often quote the recipient; errors are stored and logged, addresses are not."""
    for value in values:
        if value:
            text = text.replace(value, "[redacted]")
    text = _EMAIL_RE.sub("[email]", text)
    text = _PHONE_RE.sub(_phone_or_keep, text)
    return text[:MAX_ERROR_CHARS]


def _phone_or_keep(match: re.Match[str]) -> str:
    """Seven or more digits look like a phone number; an IP such as 127.0.0.1 does not."""
    return "[phone]" if sum(c.isdigit() for c in match.group()) >= 7 else match.group()


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date; anything else means 'no hint'."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    when = as_utc(when)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def is_transient_status(status: int) -> bool:
    """429 and 5xx are worth retrying; other 4xx will fail the same way again."""
    return status == 429 or status >= 500
