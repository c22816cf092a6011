"""Shared by the send pipeline tests: settings pointing at fakes, seeding, and draining the queues."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import redis
from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from marketing_ui.core.app_settings import SendingLimits, save_sending_limits
from marketing_ui.core.audience import Audience
from marketing_ui.core.config import reset_settings_cache
from marketing_ui.core.customers import CustomerInput, create_customer
from marketing_ui.core.db import reset_engine_cache
from marketing_ui.core.jobs import DEFAULT, EMAIL, SMS
from marketing_ui.core.messages import clear_compiled_cache
from marketing_ui.core.models import Campaign, Customer, Delivery
from marketing_ui.core.redis_client import get_redis, reset_redis_cache
from marketing_ui.core.rendering import load_template
from marketing_ui.infra.rq_jobs import get_queue, queue_name
from tests.fakes.resend_server import FakeResend
from tests.fakes.twilio_server import FakeTwilio

FROM_NUMBER = "+15017122661"


def db_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@contextmanager
def send_settings(
    engine: Engine, resend: FakeResend | None, twilio: FakeTwilio | None
) -> Iterator[dict[str, str]]:
    """Environment for the app, in-process workers and worker subprocesses alike."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    env = {"DATABASE_URL": db_url(engine), "QUEUE_PREFIX": prefix}
    if resend is not None:
        env |= {
            "EMAIL_PROVIDER": "resend",
            "RESEND_BASE_URL": resend.url,
            "RESEND_API_KEY": resend.api_key,
        }
    else:
        env |= {"EMAIL_PROVIDER": "outbox"}
    if twilio is not None:
        env |= {
            "SMS_PROVIDER": "twilio",
            "TWILIO_BASE_URL": twilio.url,
            "TWILIO_ACCOUNT_SID": twilio.account_sid,
            "TWILIO_AUTH_TOKEN": twilio.auth_token,
            "TWILIO_FROM_NUMBER": FROM_NUMBER,
        }
    else:
        env |= {"SMS_PROVIDER": "outbox"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    _reset()
    try:
        yield env
    finally:
        _cleanup_redis(prefix)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _reset()


def _reset() -> None:
    reset_settings_cache()
    reset_engine_cache()
    reset_redis_cache()
    clear_compiled_cache()


def _cleanup_redis(prefix: str) -> None:
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    for pattern in (f"{prefix}:*", f"rq:*{prefix}:*"):
        for key in client.scan_iter(match=pattern, count=1000):
            client.delete(key)
    client.close()


def set_limits(session: Session, **changes: object) -> None:
    values = {"email_requests_per_s": 0.0, "sms_segments_per_s": 0.0} | changes
    save_sending_limits(session, SendingLimits(**values))  # type: ignore[arg-type]


def zone_at_hour(hour: int) -> str:
    """An Etc/GMT zone where the local hour is `hour` right now (for quiet-hours tests)."""
    now = datetime.now(UTC)
    for offset in range(-12, 15):
        name = f"Etc/GMT{'+' if offset <= 0 else '-'}{abs(offset)}"
        if now.astimezone(ZoneInfo(name)).hour == hour:
            return name
    raise AssertionError("no zone has that hour now")


def email_of(i: int) -> str:
    return f"guest{i}@example.com"


def phone_of(i: int) -> str:
    return f"+4477123{i:05d}"


def seed_customers(
    session: Session, n: int, sms: bool = False, timezone: str | None = None
) -> list[int]:
    """n customers with email consent (and SMS consent and numbers when `sms`)."""
    ids = []
    for i in range(n):
        customer = create_customer(
            session,
            CustomerInput(
                first_name=f"Guest{i}",
                email=email_of(i),
                phone=phone_of(i) if sms else "",
                email_consent=True,
                sms_consent=sms,
            ),
        )
        assert customer.id is not None
        ids.append(customer.id)
    if timezone:
        session.execute(update(Customer).values(timezone=timezone))
    session.commit()
    return ids


def make_campaign(session: Session, channel: str = "email", **fields: object) -> int:
    defaults: dict[str, object] = {
        "subject": "Hello {{ first_name | default('there') }}",
        "mjml_body": load_template("blank"),
        "sms_body": "Hi {{ first_name }}, 2-for-1 pasta tonight",
        "track_opens_clicks": False,
    }
    campaign = Campaign(
        name="Monday special",
        channel=channel,
        audience_json=Audience().to_json(),
        **(defaults | fields),
    )
    session.add(campaign)
    session.commit()
    assert campaign.id is not None
    return campaign.id


def statuses(session: Session, campaign_id: int) -> dict[str, int]:
    session.expire_all()
    counts: dict[str, int] = {}
    for (status,) in session.execute(
        select(Delivery.status).where(Delivery.campaign_id == campaign_id)
    ):
        counts[status] = counts.get(status, 0) + 1
    return counts


def campaign_status(session: Session, campaign_id: int) -> str:
    session.expire_all()
    campaign = session.get(Campaign, campaign_id)
    assert campaign is not None
    return campaign.status


def run_worker_once() -> None:
    """A real RQ SimpleWorker in burst mode on the email and SMS queues (due scheduled jobs too)."""
    worker = SimpleWorker(
        [queue_name(EMAIL), queue_name(SMS)], connection=get_redis(), name=uuid.uuid4().hex
    )
    worker.work(burst=True, with_scheduler=True, logging_level="WARNING")


def run_default_jobs() -> None:
    """A real RQ SimpleWorker in burst mode on the default queue (signup confirmations, …)."""
    worker = SimpleWorker([queue_name(DEFAULT)], connection=get_redis(), name=uuid.uuid4().hex)
    worker.work(burst=True, with_scheduler=True, logging_level="WARNING")


def next_scheduled_at() -> float | None:
    """Epoch seconds of the earliest scheduled (retry / deferred) job, if any."""
    times = []
    for kind in (EMAIL, SMS):
        registry = ScheduledJobRegistry(queue=get_queue(kind))
        for job_id in registry.get_job_ids(cleanup=False):
            at = registry.get_scheduled_time(job_id)
            times.append(at.timestamp())
    return min(times) if times else None


def drain(
    session: Session, campaign_id: int, timeout_s: float = 20, until_horizon_s: float = 15
) -> str:
    """Run workers until the campaign leaves 'sending' or only far-future jobs remain."""
    deadline = time.monotonic() + timeout_s
    while True:
        run_worker_once()
        status = campaign_status(session, campaign_id)
        if status != "sending" or time.monotonic() > deadline:
            return status
        due = next_scheduled_at()
        if due is None or due - time.time() > until_horizon_s:
            return status
        time.sleep(max(0.0, due - time.time()) + 0.05)  # a real backoff deadline, not a race
