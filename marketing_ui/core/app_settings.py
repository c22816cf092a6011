"""Owner-editable settings kept in the DB: business identity, sending limits, deliverability guard,
frequency cap, money (currency and message prices).

Forms save through `update_business_identity` / `update_sending_limits`: the typed values are
laid over what is stored (a form that shows only some fields never drops the others), each
converted and checked with a message naming the field and what it expects, and nothing is
stored unless every field is right.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from decimal import Decimal
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session

from marketing_ui.core import audit, money
from marketing_ui.core.clock import is_timezone, utcnow
from marketing_ui.core.config import get_settings
from marketing_ui.core.models import AppSetting


class SettingsError(ValueError):
    """One sentence per wrong field, each starting with the field's label; nothing was saved."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


def _label(text: str) -> dict[str, str]:
    return {"label": text}


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
        default=5.0,
        metadata={"label": "Email API requests per second", "env": "EMAIL_REQUESTS_PER_S"},
    )
    emails_per_request: int = field(
        default=MAX_EMAILS_PER_REQUEST,
        metadata={"label": "Emails per request (batch size)", "env": "EMAILS_PER_REQUEST"},
    )
    sms_segments_per_s: float = field(
        default=1.0,
        metadata={
            "label": "SMS segments per second, per sending number",
            "env": "SMS_SEGMENTS_PER_S",
        },
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


@dataclass
class DeliverabilityLimits:
    """When the deliverability guard pauses a campaign (core/deliverability.py).

    Each field can also be fixed from the environment (`env` below); the environment wins
    over what the Settings page saved, and the page shows such a field read-only.
    """

    complaint_limit_pct: float = field(
        default=0.3,
        metadata={"label": "Pause above spam complaints %", "env": "GUARD_COMPLAINT_PCT"},
    )
    hard_bounce_limit_pct: float = field(
        default=5.0,
        metadata={"label": "Pause above hard bounces %", "env": "GUARD_HARD_BOUNCE_PCT"},
    )
    min_sample: int = field(
        default=200,
        metadata={"label": "Judge after messages sent", "env": "GUARD_MIN_SENT"},
    )

    def problems(self) -> list[tuple[str, str]]:
        """(field, what it expects) for each wrong value: the form and the environment both
        report these, each under its own name for the field."""
        out = []
        for name in ("complaint_limit_pct", "hard_bounce_limit_pct"):
            value = getattr(self, name)
            if not (0 < value <= 100 and math.isfinite(value)):
                out.append((name, "expected a share of sent messages, more than 0, at most 100."))
        if not 1 <= self.min_sample <= 1_000_000:
            out.append(("min_sample", "expected a whole number from 1 to 1,000,000."))
        return out

    def validate(self) -> None:
        problems = [f"{label(DeliverabilityLimits, n)}: {text}" for n, text in self.problems()]
        if problems:
            raise SettingsError(problems)


@dataclass
class FrequencyCap:
    """How many marketing messages one customer may get per channel in a rolling window
    (core/sending/frequency_cap.py), counting campaigns and automations alike.

    The defaults are what restaurant marketers usually aim at: about one email every two days
    at most (3 a week leaves room for a weekly newsletter, an offer and one automation), and
    texts rarer because they interrupt (2 a week). 0 means no cap on that channel. Each field
    can be fixed from the environment, like the guard's limits.
    """

    email_max: int = field(
        default=3,
        metadata={"label": "Emails per customer per window", "env": "FREQUENCY_CAP_EMAIL"},
    )
    sms_max: int = field(
        default=2,
        metadata={"label": "Texts per customer per window", "env": "FREQUENCY_CAP_SMS"},
    )
    window_days: int = field(
        default=7,
        metadata={"label": "Frequency cap window (days)", "env": "FREQUENCY_CAP_DAYS"},
    )

    def limit(self, channel: str) -> int:
        """The cap for one channel ("email" or "sms"); 0: none."""
        return self.email_max if channel == "email" else self.sms_max

    def describe(self) -> str:
        """The cap in one sentence, as the Settings and send pages say it."""
        kinds = ((self.email_max, "emails"), (self.sms_max, "texts"))
        capped = [f"{n} {what}" for n, what in kinds if n]
        free = [what for n, what in kinds if not n]
        if not capped:
            return "No frequency cap: customers get every message."
        days = "day" if self.window_days == 1 else f"{self.window_days} days"
        text = f"At most {' and '.join(capped)} per customer in any {days}"
        return text + (f"; no cap on {free[0]}." if free else ".")

    def problems(self) -> list[tuple[str, str]]:
        """(field, what it expects) for each wrong value (the form and the environment)."""
        out = []
        for name in ("email_max", "sms_max"):
            if not 0 <= getattr(self, name) <= 100:
                out.append((name, "expected a whole number from 0 (no cap) to 100."))
        if not 1 <= self.window_days <= 90:
            out.append(("window_days", "expected a whole number of days from 1 to 90."))
        return out

    def validate(self) -> None:
        problems = [f"{label(FrequencyCap, n)}: {text}" for n, text in self.problems()]
        if problems:
            raise SettingsError(problems)


@dataclass
class MoneySettings:
    """The currency of ticket amounts and what each message costs, for revenue and return.

    Prices and the largest ticket are kept as decimal strings ("0.0079"), never floats; the
    defaults are Twilio's US price per SMS segment and Resend's per email on a paid plan.
    """

    currency: str = field(default="USD", metadata=_label("Currency"))
    sms_segment_price: str = field(default="0.0079", metadata=_label("Price per SMS segment"))
    email_price: str = field(default="0.0004", metadata=_label("Price per email"))
    max_ticket: str = field(default="10000", metadata=_label("Largest ticket amount"))

    @property
    def sms_price(self) -> Decimal:
        return Decimal(self.sms_segment_price)

    @property
    def email_price_value(self) -> Decimal:
        return Decimal(self.email_price)

    @property
    def max_ticket_minor(self) -> int:
        return money.to_minor(Decimal(self.max_ticket), self.currency)

    @property
    def symbol(self) -> str:
        return money.currency(self.currency).symbol

    def problems(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.currency not in money.CURRENCIES:
            out.append(("currency", f"expected one of {', '.join(money.CURRENCY_CODES)}."))
        for name in ("sms_segment_price", "email_price"):
            try:
                money.parse_price(getattr(self, name), "")
            except money.AmountError as exc:
                out.append((name, str(exc).removeprefix(": ")))
        code = self.currency if self.currency in money.CURRENCIES else "USD"
        try:
            largest = money.parse_amount(self.max_ticket, code, None, "")
        except money.AmountError as exc:
            out.append(("max_ticket", str(exc).removeprefix(": ")))
        else:
            if (
                largest is None
                or largest <= 0
                or largest > money.to_minor(Decimal(MAX_TICKET), code)
            ):
                out.append(("max_ticket", f"expected more than 0, at most {MAX_TICKET:,}."))
        return out

    def validate(self) -> None:
        problems = [f"{label(MoneySettings, n)}: {text}" for n, text in self.problems()]
        if problems:
            raise SettingsError(problems)

    def normalised(self) -> MoneySettings:
        """Prices and the largest ticket as plain decimals ("0.0079", "10000"), once valid."""
        largest = money.parse_amount(self.max_ticket, self.currency) or 0
        return replace(
            self,
            currency=self.currency.upper(),
            sms_segment_price=str(money.parse_price(self.sms_segment_price, "")),
            email_price=str(money.parse_price(self.email_price, "")),
            max_ticket=_plain(money.from_minor(largest, self.currency)),
        )


def _plain(value: Decimal) -> str:
    """10000.00 -> "10000" (valid in every currency), 12.50 -> "12.50"."""
    return str(value.to_integral_value()) if value == value.to_integral_value() else str(value)


MAX_TICKET = 1_000_000_000  # a billion in any currency: past that a typo, not a ticket


def env_name(cls: type, name: str) -> str:
    """The environment variable that can fix a field ("" when none can)."""
    return next(f.metadata.get("env", "") for f in fields(cls) if f.name == name)


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


def fixed_by_environment(cls: type) -> dict[str, Any]:
    """The fields of a settings dataclass that the environment fixes (their `env` variable is
    set), by field name. They win over the Settings page, which shows them read-only, so a
    deployment can pin its provider plan or its guard."""
    settings = get_settings()
    values = {
        f.name: getattr(settings, env.lower())
        for f in fields(cls)
        if (env := f.metadata.get("env"))
    }
    return {name: value for name, value in values.items() if value is not None}


def _effective(session: Session, key: str, cls: type):  # noqa: ANN202 - an instance of cls
    """What the app uses: the environment over the Settings page over the defaults."""
    return replace(_load(session, key, cls), **fixed_by_environment(cls))


def _update_fixed_aware(
    session: Session, key: str, cls: type, form: Mapping[str, Any], action: str
):  # noqa: ANN202
    """Save the fields a form sent; a field the environment fixes cannot be changed here."""
    fixed = fixed_by_environment(cls)
    problems = []
    for name, value in fixed.items():
        if name not in form:
            continue
        typed, _ = _converted(form[name], type(value), label(cls, name))
        if typed != value:
            problems.append(
                f"{label(cls, name)}: set by {env_name(cls, name)} in the environment; "
                "change it there."
            )
    if problems:
        raise SettingsError(problems)
    value = _merged(_load(session, key, cls), {k: v for k, v in form.items() if k not in fixed})
    replace(value, **fixed).validate()
    audit.record(session, action, "settings", key)
    _save(session, key, value)
    return replace(value, **fixed)


def deliverability_limits(session: Session) -> DeliverabilityLimits:
    return _effective(session, "deliverability", DeliverabilityLimits)


def update_deliverability_limits(session: Session, form: Mapping[str, Any]) -> DeliverabilityLimits:
    return _update_fixed_aware(
        session, "deliverability", DeliverabilityLimits, form, "settings.deliverability"
    )


def sending_limits(session: Session) -> SendingLimits:
    """What the workers use."""
    return _effective(session, "sending", SendingLimits)


def save_sending_limits(session: Session, value: SendingLimits) -> None:
    audit.record(session, "settings.sending", "settings", "sending")
    _save(session, "sending", value)


def update_sending_limits(session: Session, form: Mapping[str, Any]) -> SendingLimits:
    """Save the fields a form sent over the stored limits; SettingsError if any is wrong."""
    return _update_fixed_aware(session, "sending", SendingLimits, form, "settings.sending")


def frequency_cap(session: Session) -> FrequencyCap:
    """What the freeze uses: the environment over the Settings page over the defaults."""
    return _effective(session, "frequency_cap", FrequencyCap)


def update_frequency_cap(session: Session, form: Mapping[str, Any]) -> FrequencyCap:
    """Save the fields a form sent; SettingsError if any is wrong or fixed by the environment."""
    return _update_fixed_aware(
        session, "frequency_cap", FrequencyCap, form, "settings.frequency_cap"
    )


# Signup (issue 15): the text-to-join keyword, the embed form's origins, the link's life ----------

MAX_EMBED_ORIGINS = 20


@dataclass
class SignupSettings:
    """How people join the list (core/signup.py). The consent wording is not here: it is
    versioned in core/signup.py so every ConsentEvent names the exact text that was shown."""

    keyword: str = field(default="JOIN", metadata=_label("Text-to-join keyword"))
    embed_origins: str = field(
        default="", metadata=_label("Websites allowed to embed the signup form")
    )
    confirm_hours: int = field(default=48, metadata=_label("Confirmation link valid for (hours)"))

    def origins(self) -> list[str]:
        """The allowed origins, normalized ("https://bistro.example"), in the order typed."""
        out: list[str] = []
        for item in self.embed_origins.replace(",", " ").split():
            origin = item.strip().rstrip("/").lower()
            if origin and origin not in out:
                out.append(origin)
        return out

    def validate(self) -> None:
        from urllib.parse import urlsplit

        from marketing_ui.core.webhooks import keyword_of  # the reserved SMS keywords' home

        problems = []
        keyword = " ".join(self.keyword.split()).upper()
        if not (2 <= len(keyword) <= 20 and keyword.replace(" ", "").isalnum()):
            problems.append(
                f"{label(SignupSettings, 'keyword')}: 2 to 20 letters or digits, such as JOIN."
            )
        elif keyword_of(keyword):
            problems.append(
                f"{label(SignupSettings, 'keyword')}: “{keyword}” already means STOP, START or "
                "HELP to phones and carriers; choose another word such as JOIN."
            )
        origins = self.origins()
        if len(origins) > MAX_EMBED_ORIGINS:
            problems.append(
                f"{label(SignupSettings, 'embed_origins')}: at most {MAX_EMBED_ORIGINS} websites."
            )
        for origin in origins[:MAX_EMBED_ORIGINS]:
            parts = urlsplit(origin)
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or parts.path
                or parts.query
                or parts.fragment
                or "@" in parts.netloc
                or len(origin) > 200
            ):
                problems.append(
                    f"{label(SignupSettings, 'embed_origins')}: “{origin[:60]}” is not a website "
                    "origin; write it as https://www.example.com (no path)."
                )
        if not 1 <= self.confirm_hours <= 168:
            problems.append(
                f"{label(SignupSettings, 'confirm_hours')}: expected 1 to 168 hours (a week)."
            )
        if problems:
            raise SettingsError(problems)


def signup_settings(session: Session) -> SignupSettings:
    return _load(session, "signup", SignupSettings)


def update_signup_settings(session: Session, form: Mapping[str, Any]) -> SignupSettings:
    """Save the fields a form sent over the stored signup settings; SettingsError if any is wrong."""
    value = _merged(signup_settings(session), form)
    value.keyword = " ".join(value.keyword.split()).upper()
    value.embed_origins = " ".join(value.origins())
    audit.record(session, "settings.signup", "settings", "signup")
    _save(session, "signup", value)
    return value


def money_settings(session: Session) -> MoneySettings:
    """Currency, message prices and the largest ticket, as revenue and the counter use them."""
    return _load(session, "money", MoneySettings)


def update_money_settings(session: Session, form: Mapping[str, Any]) -> MoneySettings:
    """Save the fields a form sent; SettingsError naming every wrong field."""
    form = {
        **form,
        **({"currency": str(form["currency"]).strip().upper()} if "currency" in form else {}),
    }
    value = _merged(money_settings(session), form).normalised()
    audit.record(session, "settings.money", "settings", "money")
    _save(session, "money", value)
    return value
