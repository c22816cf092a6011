"""Delivery providers; the factories pick the configured one so workers never branch on vendors."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Engine

from marketing_ui.core.config import Settings, get_settings
from marketing_ui.core.db import get_engine
from workers.providers.base import (
    EmailProvider,
    OutgoingEmail,
    OutgoingSms,
    ProviderUnavailable,
    SendResult,
    SmsProvider,
)
from workers.providers.outbox import OutboxProvider, read_outbox
from workers.providers.resend_email import ResendEmailProvider
from workers.providers.twilio_sms import TwilioSmsProvider

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
    pace: Callable[[], None] | None = None,
) -> EmailProvider:
    """The provider named by EMAIL_PROVIDER (outbox in development); see ResendEmailProvider for `pace`."""
    settings = settings or get_settings()
    if settings.email_provider == "resend":
        return ResendEmailProvider(settings.resend_api_key, settings.resend_base_url, pace=pace)
    return OutboxProvider(engine or get_engine())


def sms_provider(settings: Settings | None = None, engine: Engine | None = None) -> SmsProvider:
    """The provider named by SMS_PROVIDER (outbox in development)."""
    settings = settings or get_settings()
    if settings.sms_provider == "twilio":
        return TwilioSmsProvider(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.twilio_base_url,
            settings.twilio_from_number,
        )
    return OutboxProvider(engine or get_engine())
