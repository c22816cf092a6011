"""Delivery providers; the factories pick the configured one so workers never branch on vendors."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from marketing_ui.core.config import Settings, get_settings
from marketing_ui.core.db import get_engine
from marketing_ui.core.sending.providers.base import (
    OPEN_GATE,
    EmailProvider,
    OutgoingEmail,
    OutgoingSms,
    ProviderUnavailable,
    RequestGate,
    SendResult,
    SmsProvider,
)
from marketing_ui.core.sending.providers.outbox import OutboxProvider, read_outbox
from marketing_ui.core.sending.providers.resend_email import ResendEmailProvider
from marketing_ui.core.sending.providers.twilio_sms import TwilioSmsProvider

__all__ = [
    "EmailProvider",
    "OutboxProvider",
    "OutgoingEmail",
    "OutgoingSms",
    "ProviderUnavailable",
    "ResendEmailProvider",
    "SendResult",
    "SmsProvider",
    "TwilioSmsProvider",
    "email_provider",
    "read_outbox",
    "sms_provider",
]


def email_provider(
    settings: Settings | None = None,
    engine: Engine | None = None,
    gate: RequestGate = OPEN_GATE,
) -> EmailProvider:
    """The provider named by EMAIL_PROVIDER (outbox in development); `gate` holds every request
    to the provider's limit (marketing_ui.core.sending.throttle.email_limiter)."""
    settings = settings or get_settings()
    if settings.email_provider == "resend":
        return ResendEmailProvider(
            settings.resend_api_key,
            settings.resend_base_url,
            timeout_s=settings.provider_timeout_s,
            gate=gate,
        )
    return OutboxProvider(engine or get_engine(), gate=gate)


def sms_provider(
    settings: Settings | None = None,
    engine: Engine | None = None,
    gate: RequestGate = OPEN_GATE,
) -> SmsProvider:
    """The provider named by SMS_PROVIDER (outbox in development); `gate` is the sending
    number's limit in segments per second (marketing_ui.core.sending.throttle.sms_limiter)."""
    settings = settings or get_settings()
    if settings.sms_provider == "twilio":
        return TwilioSmsProvider(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.twilio_base_url,
            settings.twilio_from_number,
            timeout_s=settings.provider_timeout_s,
            gate=gate,
        )
    return OutboxProvider(engine or get_engine(), gate=gate)
