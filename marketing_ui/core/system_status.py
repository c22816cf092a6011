"""Checks for the Settings page: database, Redis, workers, providers (ok, checking or down)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlmodel import Session

from marketing_ui.core import jobs, redis_keys
from marketing_ui.core.config import Settings
from marketing_ui.core.db import get_engine
from marketing_ui.core.models import Campaign, Customer, Delivery, DeliveryStatus, Segment
from marketing_ui.core.redis_client import get_redis

HEALTH_FRESH_S = 120
OK, CHECKING, DOWN = "ok", "checking", "down"


@dataclass(frozen=True)
class Check:
    name: str
    state: str  # OK (green), CHECKING (neutral: not known yet, never red) or DOWN (red)
    detail: str

    @property
    def ok(self) -> bool:
        return self.state == OK


def _check(name: str, ok: bool, detail: str) -> Check:
    return Check(name, OK if ok else DOWN, detail)


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
        return _check("Database", True, _redacted_url(settings.database_url))
    except Exception as exc:  # noqa: BLE001 - any failure is "down"
        return _check("Database", False, f"{type(exc).__name__}: unreachable")


def redis_check(settings: Settings) -> Check:
    try:
        info = get_redis().info("server")
        where = _redacted_url(settings.redis_url) if settings.redis_url else "embedded"
        return _check("Redis", True, f"{where} (Redis {info.get('redis_version', '?')})")
    except Exception as exc:  # noqa: BLE001
        return _check("Redis", False, f"{type(exc).__name__}: unreachable")


def heartbeat_key() -> str:
    """Per deployment (queue prefix), so two apps sharing one Redis never vouch for each other."""
    return redis_keys.worker_health()


def worker_check(unanswered_s: float | None = None) -> Check:
    """Green when a worker proved itself recently (at its start or by answering the health job).

    A registered worker without a recent proof is CHECKING, not red: the Settings page then
    asks it with the health job. `unanswered_s` is how long such a job has waited: red only
    when registered workers sat idle through it (a busy worker answers after its current job).
    """
    try:
        r = get_redis()
        workers = jobs.queue().worker_states()
        beat = r.hgetall(heartbeat_key())
        busy = sum(1 for state in workers if state == "busy")
    except Exception as exc:  # noqa: BLE001
        return _check("Workers", False, f"{type(exc).__name__}: Redis unreachable")
    age = time.time() - float(beat.get(b"at", 0) or 0) if beat else None
    if age is not None and age < HEALTH_FRESH_S:
        return Check("Workers", OK, f"{len(workers)} running; last proof of life {age:.0f}s ago")
    if not workers:
        return Check("Workers", DOWN, "no worker running (start: python -m workers.run)")
    if unanswered_s is None:
        return Check("Workers", CHECKING, f"{len(workers)} registered; checking…")
    if busy:
        return Check(
            "Workers",
            CHECKING,
            f"{len(workers)} registered, {busy} busy with other jobs; the health job waits its turn",
        )
    return Check(
        "Workers",
        DOWN,
        f"{len(workers)} registered but none answered the health job in {unanswered_s:.0f} s",
    )


def provider_checks(settings: Settings) -> list[Check]:
    email = (
        _check("Email provider", True, "outbox (development: messages stored, not sent)")
        if settings.email_provider == "outbox"
        else _check(
            "Email provider",
            bool(settings.resend_api_key),
            "Resend" + ("" if settings.resend_api_key else ": RESEND_API_KEY missing"),
        )
    )
    sms_ready = bool(
        settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number
    )
    sms = (
        _check("SMS provider", True, "outbox (development: messages stored, not sent)")
        if settings.sms_provider == "outbox"
        else _check(
            "SMS provider", sms_ready, "Twilio" + ("" if sms_ready else ": credentials missing")
        )
    )
    return [email, sms]


def all_checks(settings: Settings, health_unanswered_s: float | None = None) -> list[Check]:
    return [
        database_check(settings),
        redis_check(settings),
        worker_check(health_unanswered_s),
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


HEALTH_JOB = "workers.health.health_check"


def request_health_check() -> str:
    """Queue the health job (a worker answers it after its current job); returns its id."""
    job_id = f"health-{uuid.uuid4().hex}"
    jobs.queue().enqueue(jobs.DEFAULT, [jobs.Job(HEALTH_JOB, (), job_id=job_id, result_ttl_s=300)])
    return job_id


def health_check_state(job_id: str) -> jobs.JobState | None:
    return jobs.queue().state(job_id)
