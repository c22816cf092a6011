"""The rate-limit stage: one shared limiter per provider account and per SMS sending number.

Limits are in the provider's own terms (marketing_ui/core/sending/rate_limiter.py, docs/rate_limiter.md): an
email provider counts API requests (each a batch of up to `emails_per_request` emails), a
sending number counts message segments. The providers hold a permit around every request
they make; the send loops look first (`wait_estimate`) so a job that would wait long gives its
deliveries back and comes back later instead of holding a worker.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from marketing_ui.core import redis_keys
from marketing_ui.core.app_settings import SendingLimits
from marketing_ui.core.config import Settings
from marketing_ui.core.redis_client import get_redis
from marketing_ui.core.sending.rate_limiter import Limit, RequestLimiter

MAX_WAIT_S = 2.0  # longer than this and the job re-schedules itself instead of sleeping


def _limiter(key: str, rate_per_s: float) -> RequestLimiter:
    prefix = redis_keys.rate_limiter_prefix()
    return RequestLimiter(get_redis(), key, Limit.per_second(rate_per_s), prefix=prefix)


def email_limiter(limits: SendingLimits, provider_name: str) -> RequestLimiter:
    """Requests per second for the email provider account."""
    return _limiter(f"email:{provider_name}", limits.email_requests_per_s)


def sms_limiter(limits: SendingLimits, provider_name: str, from_number: str) -> RequestLimiter:
    """Message segments per second for one sending number."""
    return _limiter(f"sms:{provider_name}:{from_number or 'default'}", limits.sms_segments_per_s)


def limited_email_provider(limits: SendingLimits, settings: Settings, engine: Engine | None = None):  # noqa: ANN201
    """The configured email provider holding a permit of the account's limit around every
    request: what anything outside the send loop (test sends, signup confirmations) uses."""
    from marketing_ui.core.sending.providers import email_provider

    gate = email_limiter(limits, email_provider(settings, engine).name)
    return email_provider(settings, engine, gate=gate)


def limited_sms_provider(limits: SendingLimits, settings: Settings, engine: Engine | None = None):  # noqa: ANN201
    """The configured SMS provider holding the sending number's limit around every message."""
    from marketing_ui.core.sending.providers import sms_provider

    name = sms_provider(settings, engine).name
    gate = sms_limiter(limits, name, settings.twilio_from_number)
    return sms_provider(settings, engine, gate=gate)
