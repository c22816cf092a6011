"""Green/red checks for the Settings page: database, Redis, workers, providers."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rq import Queue, Worker
from sqlalchemy import func, select, text
from sqlmodel import Session

from marketing_ui.core.config import Settings, get_settings
from marketing_ui.core.db import get_engine
from marketing_ui.core.models import Campaign, Customer, Delivery, DeliveryStatus, Segment
from marketing_ui.core.redis_client import get_redis

HEALTH_FRESH_S = 120


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _redacted_url(url: str) -> str:
    """Show scheme, host and database, never a password."""
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def database_check(settings: Settings) -> Check:
    try:
        with get_engine().connect() as conn:
            conn.execute(text("select 1"))
        return Check("Database", True, _redacted_url(settings.database_url))
    except Exception as exc:  # noqa: BLE001 - any failure is "down"
        return Check("Database", False, f"{type(exc).__name__}: unreachable")


def redis_check(settings: Settings) -> Check:
    try:
        info = get_redis().info("server")
        where = _redacted_url(settings.redis_url) if settings.redis_url else "embedded"
        return Check("Redis", True, f"{where} (Redis {info.get('redis_version', '?')})")
    except Exception as exc:  # noqa: BLE001
        return Check("Redis", False, f"{type(exc).__name__}: unreachable")


def worker_check() -> Check:
    """Green when a worker answered the health job recently."""
    try:
        r = get_redis()
        workers = Worker.all(queue=Queue(f"{get_settings().queue_prefix}:default", connection=r))
        beat = r.hgetall(f"{get_settings().queue_prefix}:worker:last_health")
    except Exception as exc:  # noqa: BLE001
        return Check("Workers", False, f"{type(exc).__name__}: Redis unreachable")
    age = time.time() - float(beat.get(b"at", 0) or 0) if beat else None
    if age is not None and age < HEALTH_FRESH_S:
        return Check("Workers", True, f"{len(workers)} running; health job answered {age:.0f}s ago")
    if workers:
        return Check("Workers", False, f"{len(workers)} registered; run the health check")
    return Check("Workers", False, "no worker running (start: python -m workers.run)")


def provider_checks(settings: Settings) -> list[Check]:
    email = (
        Check("Email provider", True, "outbox (development: messages stored, not sent)")
        if settings.email_provider == "outbox"
        else Check(
            "Email provider",
            bool(settings.resend_api_key),
            "Resend" + ("" if settings.resend_api_key else ": RESEND_API_KEY missing"),
        )
    )
    sms_ready = bool(
        settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number
    )
    sms = (
        Check("SMS provider", True, "outbox (development: messages stored, not sent)")
        if settings.sms_provider == "outbox"
        else Check(
            "SMS provider", sms_ready, "Twilio" + ("" if sms_ready else ": credentials missing")
        )
    )
    return [email, sms]


def all_checks(settings: Settings) -> list[Check]:
    return [
        database_check(settings),
        redis_check(settings),
        worker_check(),
        *provider_checks(settings),
    ]


@dataclass(frozen=True)
class DashboardCounts:
    customers: int
    email_subscribers: int
    sms_subscribers: int
    segments: int
    campaigns: int
    campaigns_sent: int
    messages_sent: int


def dashboard_counts(session: Session) -> DashboardCounts:
    """Headline numbers for the home page, each one SQL aggregate."""
    customers, email_ok, sms_ok = session.execute(
        select(
            func.count(Customer.id),
            func.count(Customer.id).filter(Customer.email_consent.is_(True)),
            func.count(Customer.id).filter(Customer.sms_consent.is_(True)),
        )
    ).one()
    campaigns, sent = session.execute(
        select(
            func.count(Campaign.id),
            func.count(Campaign.id).filter(Campaign.status == "sent"),
        )
    ).one()
    segments = session.execute(select(func.count(Segment.id))).scalar_one()
    messages = session.execute(
        select(func.count(Delivery.id)).where(
            Delivery.status.in_([DeliveryStatus.SENT, DeliveryStatus.DELIVERED])
        )
    ).scalar_one()
    return DashboardCounts(customers, email_ok, sms_ok, segments, campaigns, sent, messages)
