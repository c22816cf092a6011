"""Nothing lost, nothing sent twice: a worker SIGKILLed mid-batch, jobs lost with Redis, a
worker that died after the provider accepted an SMS. The fakes count what each recipient got."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from marketing_ui.core import sending
from marketing_ui.core.clock import utcnow
from marketing_ui.core.config import PROJECT_ROOT, get_settings
from marketing_ui.core.jobs import EMAIL, SMS
from marketing_ui.core.redis_client import get_redis
from marketing_ui.core.sending.claim import claim
from marketing_ui.core.sending.providers import OutgoingSms, TwilioSmsProvider
from marketing_ui.core.sending.queueing import EMAIL_JOB_SIZE
from marketing_ui.core.sending.sweeper import sweep
from marketing_ui.infra.rq_jobs import get_queue
from tests.fakes.resend_server import FakeResend
from tests.fakes.twilio_server import FakeTwilio
from tests.workers.sending_harness import (
    FROM_NUMBER,
    campaign_status,
    drain,
    make_campaign,
    phone_of,
    seed_customers,
    send_settings,
    set_limits,
    statuses,
    zone_at_hour,
)


@pytest.fixture
def fake_resend() -> Iterator[FakeResend]:
    with FakeResend() as fake:
        yield fake


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


def _worker(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "workers.run", "--burst", "--no-periodic"],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for(predicate, timeout_s: float = 20.0) -> None:  # noqa: ANN001 - a zero-arg callable
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_sigkill_mid_batch_then_sweeper_every_recipient_exactly_once(
    engine: Engine, redis_client: object, fake_resend: FakeResend
) -> None:
    with send_settings(engine, fake_resend, None) as env, Session(engine) as session:
        set_limits(session)
        seed_customers(session, 300)
        campaign_id = make_campaign(session)
        fake_resend.delay_s = 0.4  # each batch call is slow: the kill lands inside one
        sending.start_send(session, campaign_id)

        victim = _worker(env)
        _wait_for(lambda: fake_resend.requests >= 2)  # second batch is in the provider's hands
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        fake_resend.delay_s = 0.0
        # The fake finishes storing the batch the dead worker never recorded.
        _wait_for(lambda: len(fake_resend.messages) >= 2 * EMAIL_JOB_SIZE)

        before = statuses(session, campaign_id)
        assert before.get("inflight", 0) > 0
        # The provider holds a batch we never recorded: the window the idempotency key covers.
        assert len(fake_resend.messages) > before.get("sent", 0)
        report = sweep(session, now=utcnow() + timedelta(seconds=get_settings().send_lease_s + 1))
        assert report.reclaimed > 0
        survivor = _worker(env)
        assert survivor.wait(timeout=60) == 0

        counts = fake_resend.count_by_recipient()
        assert len(counts) == 300, "nobody lost"
        assert set(counts.values()) == {1}, "nobody twice"
        assert statuses(session, campaign_id) == {"sent": 300}
        assert campaign_status(session, campaign_id) == "sent"


@pytest.mark.parametrize("engine", ["sqlite", "postgres"], indirect=True)
def test_jobs_lost_with_redis_are_requeued_by_the_sweeper(
    engine: Engine, redis_client: object, fake_resend: FakeResend
) -> None:
    """Redis restarted without persistence (or the app died between freeze and enqueue)."""
    with send_settings(engine, fake_resend, None), Session(engine) as session:
        set_limits(session)
        seed_customers(session, 150)
        campaign_id = make_campaign(session)
        sending.start_send(session, campaign_id)
        get_queue(EMAIL).empty()  # every queued job is gone

        report = sweep(session)

        assert report.requeued_campaigns == [campaign_id]
        assert sweep(session).requeued_campaigns == []  # jobs exist now: not queued twice
        assert drain(session, campaign_id) == "sent"
        counts = fake_resend.count_by_recipient()
        assert len(counts) == 150 and set(counts.values()) == {1}


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_sms_sent_by_a_worker_that_died_is_found_not_resent(
    engine: Engine, redis_client: object, fake_twilio: FakeTwilio
) -> None:
    with send_settings(engine, None, fake_twilio), Session(engine) as session:
        set_limits(session)
        seed_customers(session, 3, sms=True, timezone=zone_at_hour(12))
        campaign_id = make_campaign(session, channel="sms")
        sending.start_send(session, campaign_id)
        get_queue(SMS).empty()
        # A worker claims everything, gets the first SMS accepted by Twilio, and dies.
        claimed = claim(session, campaign_id, "sms", [1, 2, 3], utcnow())
        assert len(claimed) == 3
        TwilioSmsProvider(
            fake_twilio.account_sid, fake_twilio.auth_token, fake_twilio.url, FROM_NUMBER
        ).send(
            OutgoingSms(
                key="d1",
                to=phone_of(0),
                from_=FROM_NUMBER,
                body="Hi Guest0, 2-for-1 pasta tonight\nReply STOP to opt out",
            )
        )

        assert (
            sweep(
                session, now=utcnow() + timedelta(seconds=get_settings().send_lease_s + 1)
            ).reclaimed
            == 3
        )
        get_redis().delete(sending.live.key(campaign_id, "active", "sms"))
        assert drain(session, campaign_id) == "sent"

        assert fake_twilio.count_by_recipient() == {phone_of(i): 1 for i in range(3)}
        assert statuses(session, campaign_id) == {"sent": 3}
