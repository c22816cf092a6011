"""Owner-editable settings kept in the DB: business identity and sending limits.

Forms save through `update_business_identity` / `update_sending_limits`: the typed values are
laid over what is stored (a form that shows only some fields never drops the others), each
converted and checked with a message naming the field and what it expects, and nothing is
stored unless every field is right.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session

from marketing_ui.core import audit
from marketing_ui.core.config import get_settings
from marketing_ui.core.models import AppSetting, utcnow


class SettingsError(ValueError):
    """One sentence per wrong field, each starting with the field's label; nothing was saved."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


def _label(text: str) -> dict[str, str]:
    return {"label": text}


@functools.cache
def _iana_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_timezone(name: str) -> bool:
    """An IANA time zone name the system knows (Europe/Paris, America/New_York, UTC)."""
    return name in _iana_zones()


def zone_or_utc(name: str | None) -> ZoneInfo:
    """The business's zone for display and dates; UTC for a value stored before it was checked."""
    return ZoneInfo(name) if name and is_timezone(name) else ZoneInfo("UTC")


@dataclass
class BusinessIdentity:
    business_name: str = field(default="Demo Bistro", metadata=_label("Business name"))
    sender_name: str = field(default="Demo Bistro", metadata=_label("Sender name"))
    sender_email: str = field(default="hello@example.com", metadata=_label("Sender address"))
    postal_address: str = field(
        default="1 Main Street, Springfield, USA", metadata=_label("Postal address")
    )
    logo: str = field(default="logo.png", metadata=_label("Logo (asset file name)"))
    timezone: str = field(default="UTC", metadata=_label("Time zone"))

    def validate(self) -> None:
        problems = []
        if not self.business_name.strip():
            problems.append("Business name is required.")
        if not self.postal_address.strip():
            problems.append(
                "Postal address: a physical postal address is required in every marketing "
                "email (CAN-SPAM)."
            )
        try:
            validate_email(self.sender_email, check_deliverability=False)
        except EmailNotValidError as exc:
            problems.append(f"Sender address is not valid: {exc}")
        if not is_timezone(self.timezone):
            problems.append(
                f"Time zone: “{self.timezone}” is not a time zone; use an IANA name such as "
                "Europe/Paris, America/New_York or UTC."
            )
        if problems:
            raise SettingsError(problems)


# The largest batch each email provider takes in one request (Resend's batch endpoint: 100).
MAX_EMAILS_PER_REQUEST = 100
MAX_RATE = 10_000.0  # above any provider's documented limit: a typo, not a plan


@dataclass
class SendingLimits:
    """Limits in the providers' own terms (defaults from their documents): Resend allows
    5 API requests per second, each a batch of up to 100 emails; a Twilio long code sends
    1 message segment per second. 0 requests (or segments) per second means unlimited."""

    email_requests_per_s: float = field(
        default=5.0, metadata=_label("Email API requests per second")
    )
    emails_per_request: int = field(
        default=MAX_EMAILS_PER_REQUEST, metadata=_label("Emails per request (batch size)")
    )
    sms_segments_per_s: float = field(
        default=1.0, metadata=_label("SMS segments per second, per sending number")
    )
    max_attempts: int = field(default=5, metadata=_label("Attempts per message"))
    failure_threshold_pct: float = field(
        default=20.0, metadata=_label("Fail campaign above error %")
    )
    quiet_start_hour: int = field(default=21, metadata=_label("SMS quiet hours start"))
    quiet_end_hour: int = field(default=8, metadata=_label("SMS quiet hours end"))

    @property
    def email_ceiling_per_s(self) -> float:
        """The most emails a second these limits allow (0: unlimited)."""
        return self.email_requests_per_s * self.emails_per_request

    def describe(self) -> dict[str, str]:
        """The resulting ceilings, as the Settings page says them."""
        email = (
            f"up to {self.email_ceiling_per_s:,.0f} emails/s "
            f"({self.email_requests_per_s:g} requests × {self.emails_per_request})"
            if self.email_requests_per_s
            else "no limit: use only with a provider that has none"
        )
        sms = (
            f"up to {self.sms_segments_per_s * 60:,.0f} SMS segments a minute per sending number"
            if self.sms_segments_per_s
            else "no limit: use only with a provider that has none"
        )
        return {"email": email, "sms": sms}

    def validate(self) -> None:
        problems = []
        for name in ("email_requests_per_s", "sms_segments_per_s"):
            value = getattr(self, name)
            if value < 0 or value > MAX_RATE:
                problems.append(
                    f"{label(SendingLimits, name)}: expected 0 (no limit) to {MAX_RATE:,.0f}."
                )
            elif 0 < value < 1 / 3600:
                problems.append(
                    f"{label(SendingLimits, name)}: at least one an hour (0.0003), or 0 for no "
                    "limit; a slower setting would look like a campaign that never sends."
                )
        if not 1 <= self.emails_per_request <= MAX_EMAILS_PER_REQUEST:
            problems.append(
                f"{label(SendingLimits, 'emails_per_request')}: expected 1 to "
                f"{MAX_EMAILS_PER_REQUEST} (the provider's largest batch)."
            )
        if not 1 <= self.max_attempts <= 20:
            problems.append(f"{label(SendingLimits, 'max_attempts')}: expected 1 to 20.")
        if not 0 < self.failure_threshold_pct <= 100:
            problems.append(
                f"{label(SendingLimits, 'failure_threshold_pct')}: expected more than 0, "
                "at most 100."
            )
        for name in ("quiet_start_hour", "quiet_end_hour"):
            if not 0 <= getattr(self, name) <= 23:
                problems.append(f"{label(SendingLimits, name)}: expected an hour from 0 to 23.")
        if problems:
            raise SettingsError(problems)


def label(cls: type, name: str) -> str:
    """The field's name as the Settings form shows it (one home for forms and messages)."""
    return next(f.metadata.get("label", name) for f in fields(cls) if f.name == name)


_EXPECTED = {int: "a whole number", float: "a number"}
_TYPES = {"int": int, "float": float, "str": str}  # annotations are strings in this module


def _converted(value: Any, kind: type, field_label: str) -> tuple[Any, str | None]:
    """The typed text as the field's type, or a sentence naming the field and what it expects."""
    if kind is str:
        return str(value).strip(), None
    text = str(value).strip()
    try:
        number = kind(text)
    except ValueError:
        number = None
    if number is None or (kind is float and not math.isfinite(number)):
        shown = f"“{text[:40]}”" if text else "nothing"
        return None, f"{field_label}: expected {_EXPECTED[kind]}, got {shown}."
    return number, None


def _merged(stored: Any, form: Mapping[str, Any]) -> Any:
    """The stored value with the form's fields laid over it; unknown keys are ignored."""
    changes: dict[str, Any] = {}
    problems: list[str] = []
    for f in fields(stored):
        if f.name not in form:
            continue
        value, problem = _converted(form[f.name], _TYPES[f.type], f.metadata.get("label", f.name))
        if problem:
            problems.append(problem)
        else:
            changes[f.name] = value
    if problems:
        raise SettingsError(problems)
    merged = replace(stored, **changes)
    merged.validate()
    return merged


def _load(session: Session, key: str, cls: type):
    row = session.get(AppSetting, key)
    stored = json.loads(row.value_json) if row else {}
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in stored.items() if k in known})


def _save(session: Session, key: str, value) -> None:
    value.validate()
    row = session.get(AppSetting, key) or AppSetting(key=key, value_json="{}")
    row.value_json = json.dumps(asdict(value))
    row.updated_at = utcnow()
    session.add(row)
    session.commit()


def business_identity(session: Session) -> BusinessIdentity:
    return _load(session, "business", BusinessIdentity)


def save_business_identity(session: Session, value: BusinessIdentity) -> None:
    audit.record(session, "settings.business", "settings", "business")
    _save(session, "business", value)


def update_business_identity(session: Session, form: Mapping[str, Any]) -> BusinessIdentity:
    """Save the fields a form sent over the stored identity; SettingsError if any is wrong."""
    value = _merged(business_identity(session), form)
    save_business_identity(session, value)
    return value


# Sending limits the environment may fix (EMAIL_REQUESTS_PER_S, ...): they win over the
# Settings page, which shows them locked, so a deployment can pin its provider plan.
ENV_LIMITS = ("email_requests_per_s", "emails_per_request", "sms_segments_per_s")


def limits_from_environment() -> dict[str, float | int]:
    settings = get_settings()
    return {name: value for name in ENV_LIMITS if (value := getattr(settings, name)) is not None}


def sending_limits(session: Session) -> SendingLimits:
    """What the workers use: the stored limits with the environment's laid over them."""
    stored = _load(session, "sending", SendingLimits)
    return replace(stored, **limits_from_environment())


def save_sending_limits(session: Session, value: SendingLimits) -> None:
    audit.record(session, "settings.sending", "settings", "sending")
    _save(session, "sending", value)


def update_sending_limits(session: Session, form: Mapping[str, Any]) -> SendingLimits:
    """Save the fields a form sent over the stored limits; SettingsError if any is wrong.

    Returns the limits in force (the environment's still win where it sets them)."""
    value = _merged(_load(session, "sending", SendingLimits), form)
    save_sending_limits(session, value)
    return replace(value, **limits_from_environment())
