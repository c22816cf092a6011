"""Owner-editable settings kept in the DB: business identity and sending limits."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session

from marketing_ui.core.models import AppSetting, utcnow


@dataclass
class BusinessIdentity:
    business_name: str = "Demo Bistro"
    sender_name: str = "Demo Bistro"
    sender_email: str = "hello@example.com"
    postal_address: str = "1 Main Street, Springfield, USA"
    logo: str = "logo.png"
    timezone: str = "UTC"

    def validate(self) -> None:
        problems = []
        if not self.business_name.strip():
            problems.append("Business name is required.")
        if not self.postal_address.strip():
            problems.append(
                "A physical postal address is required in every marketing email (CAN-SPAM)."
            )
        try:
            validate_email(self.sender_email, check_deliverability=False)
        except EmailNotValidError as exc:
            problems.append(f"Sender address is not valid: {exc}")
        if problems:
            raise ValueError(" ".join(problems))


@dataclass
class SendingLimits:
    email_rate_per_s: float = 10.0
    email_burst: int = 100
    sms_rate_per_s: float = 1.0
    sms_burst: int = 1
    max_attempts: int = 5
    failure_threshold_pct: float = 20.0
    quiet_start_hour: int = 21
    quiet_end_hour: int = 8

    def validate(self) -> None:
        problems = []
        if self.email_rate_per_s < 0 or self.sms_rate_per_s < 0:
            problems.append("Rates cannot be negative (0 means unlimited).")
        if self.email_burst < 1 or self.sms_burst < 1:
            problems.append("Burst must be at least 1.")
        if not 1 <= self.max_attempts <= 20:
            problems.append("Attempts must be between 1 and 20.")
        if not 0 < self.failure_threshold_pct <= 100:
            problems.append("Failure threshold must be between 0 and 100 percent.")
        if problems:
            raise ValueError(" ".join(problems))


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
    _save(session, "business", value)


def sending_limits(session: Session) -> SendingLimits:
    return _load(session, "sending", SendingLimits)


def save_sending_limits(session: Session, value: SendingLimits) -> None:
    _save(session, "sending", value)
