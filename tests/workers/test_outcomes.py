"""Outcomes that tell the truth: a provider that does not answer leaves the outcome unknown (never
a failure, never an attempt), the retry replays it, a dead worker's batch is taken over within
seconds, every wait has its reason in a column, and a failure reason describes the rows as they
are now. Real Redis, real RQ workers, loopback fakes that answer late; SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from rq import Worker
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from marketing_ui.core import sending
from marketing_ui.core.clock import as_utc, utcnow
from marketing_ui.core.config import PROJECT_ROOT
from marketing_ui.core.jobs import EMAIL
from marketing_ui.core.models import Campaign, Delivery, DeliveryStatus, WaitReason
from marketing_ui.core.sending import heartbeat
from marketing_ui.core.sending.claim import claim
from marketing_ui.core.sending.sweeper import sweep
from marketing_ui.infra.rq_jobs import get_queue
from tests.fakes.resend_server import FakeResend
from tests.fakes.twilio_server import FakeTwilio
from tests.workers.sending_harness import (
    campaign_status,
    drain,
    make_campaign,
    phone_of,
    run_worker_once,
    seed_customers,
    send_settings,
    set_limits,
    statuses,
    zone_at_hour,
)

CLIENT_TIMEOUT_S = 0.5
LATE_S = 1.5  # the fake answers after the client gave up


@pytest.fixture
def fake_resend() -> Iterator[FakeResend]:
    with FakeResend() as fake:
        yield fake


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def env(
    engine: Engine,
    redis_client: object,
    fake_resend: FakeResend,
    fake_twilio: FakeTwilio,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Session]:
    monkeypatch.setenv("PROVIDER_TIMEOUT_S", str(CLIENT_TIMEOUT_S))
    with send_settings(engine, fake_resend, fake_twilio), Session(engine) as session:
        set_limits(session)
        yield session


def _rows(session: Session, campaign_id: int) -> list[Delivery]:
    session.expire_all()
    return list(
        session.execute(select(Delivery).where(Delivery.campaign_id == campaign_id)).scalars()
    )


def _wait_for(predicate: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_timeout_is_an_unknown_outcome_replayed_under_the_same_key(
    env: Session, fake_resend: FakeResend
) -> None:
    seed_customers(env, 20)
    campaign_id = make_campaign(env)
    fake_resend.slow_next(1, LATE_S)  # accepted at once, answered after the client gave up

    sending.start_send(env, campaign_id)
    run_worker_once()

    rows = _rows(env, campaign_id)
    assert len(fake_resend.messages) == 20  # the provider has them all
    assert {r.status for r in rows} == {"pending"}  # never failed for a timeout
    assert {r.wait_reason for r in rows} == {WaitReason.UNKNOWN_OUTCOME}
    assert all(r.unknown_since is not None and r.attempts == 0 for r in rows)  # not an attempt
    assert "timeout" in rows[0].error and "500" not in rows[0].error
    retry_in = (min(as_utc(r.next_attempt_at) for r in rows) - utcnow()).total_seconds()
    assert retry_in <= 61  # an unknown outcome is re-checked within a minute
    waits = sending.progress(env, campaign_id).waits  # type: ignore[union-attr]
    assert [(w.reason, w.count) for w in waits] == [("unknown_outcome", 20)]
    assert waits[0].resumes_at

    assert drain(env, campaign_id) == "sent"
    assert set(fake_resend.count_by_recipient().values()) == {1}  # replayed, not resent
    assert len({m["idempotency_key"] for m in fake_resend.messages}) == 1
    rows = _rows(env, campaign_id)
    assert {r.provider_message_id for r in rows} == {m["id"] for m in fake_resend.messages}
    assert {(r.attempts, r.wait_reason, r.unknown_since) for r in rows} == {(1, "", None)}


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_timeouts_never_use_up_the_attempts(env: Session, fake_resend: FakeResend) -> None:
    """One attempt allowed, two timeouts in a row: still sent, once."""
    set_limits(env, max_attempts=1)
    seed_customers(env, 5)
    campaign_id = make_campaign(env)
    fake_resend.slow_next(2, LATE_S)

    sending.start_send(env, campaign_id)

    assert drain(env, campaign_id, timeout_s=40) == "sent"
    assert statuses(env, campaign_id) == {"sent": 5}
    assert set(fake_resend.count_by_recipient().values()) == {1}
    assert fake_resend.slow_answers == 2


def test_an_outcome_unknown_for_23_hours_fails_with_that_reason(
    env: Session, fake_resend: FakeResend
) -> None:
    """Resend forgets a key after 24 h; a replay after that could send again, so stop before."""
    seed_customers(env, 3)
    campaign_id = make_campaign(env)
    sending.start_send(env, campaign_id)
    env.execute(update(Delivery).values(unknown_since=utcnow() - timedelta(hours=23, minutes=1)))
    env.commit()
    fake_resend.slow_next(1, LATE_S)

    run_worker_once()

    rows = _rows(env, campaign_id)
    assert {r.status for r in rows} == {"failed"}
    assert all(r.error.startswith("outcome unknown for 23 h") for r in rows)


def test_each_wait_has_its_reason_in_a_column(env: Session, fake_resend: FakeResend) -> None:
    seed_customers(env, 10)
    campaign_id = make_campaign(env)
    fake_resend.fail_next(1, 500)
    sending.start_send(env, campaign_id)
    run_worker_once()
    assert {r.wait_reason for r in _rows(env, campaign_id)} == {WaitReason.RETRY_AFTER_ERROR}

    env.execute(update(Delivery).values(next_attempt_at=None))
    env.commit()
    fake_resend.fail_next(1, 429, retry_after=30)
    get_queue(EMAIL).empty()
    sending.enqueue_pending(env, campaign_id, EMAIL)
    run_worker_once()
    rows = _rows(env, campaign_id)
    assert {r.wait_reason for r in rows} == {WaitReason.RATE_LIMITED}
    assert {r.attempts for r in rows} == {2}  # two answers from the provider


def test_sms_timeout_is_looked_up_not_resent(env: Session, fake_twilio: FakeTwilio) -> None:
    """Twilio has no idempotency key: after a timeout the message is found, not sent again."""
    seed_customers(env, 3, sms=True, timezone=zone_at_hour(12))
    campaign_id = make_campaign(env, channel="sms")
    fake_twilio.slow_next(1, LATE_S)

    sending.start_send(env, campaign_id)
    run_worker_once()
    unknown = [r for r in _rows(env, campaign_id) if r.wait_reason == WaitReason.UNKNOWN_OUTCOME]
    assert len(unknown) == 1 and unknown[0].status == "pending" and unknown[0].attempts == 0

    assert drain(env, campaign_id) == "sent"
    assert fake_twilio.count_by_recipient() == {phone_of(i): 1 for i in range(3)}
    recorded = {r.provider_message_id for r in _rows(env, campaign_id)}
    assert recorded == {m["sid"] for m in fake_twilio.messages}


def test_a_dead_holder_is_taken_over_at_once_and_a_live_one_is_not(
    env: Session, fake_resend: FakeResend
) -> None:
    seed_customers(env, 4)
    campaign_id = make_campaign(env)
    sending.start_send(env, campaign_id)
    get_queue(EMAIL).empty()
    ids = [r.id for r in _rows(env, campaign_id)]
    assert len(claim(env, campaign_id, EMAIL, ids, utcnow())) == 4
    heartbeat.beat("alive-worker")
    env.execute(update(Delivery).where(Delivery.id.in_(ids[:2])).values(lease_holder="gone"))
    env.execute(
        update(Delivery).where(Delivery.id.in_(ids[2:])).values(lease_holder="alive-worker")
    )
    env.commit()
    waits = sending.progress(env, campaign_id).waits  # type: ignore[union-attr]
    assert [(w.reason, w.count, w.resumes_at) for w in waits] == [("worker_lost", 2, "")]

    report = sweep(env)  # now, not after the 120 s lease

    assert report.taken_over == 2
    rows = {r.id: r for r in _rows(env, campaign_id)}
    for i in ids[:2]:
        assert rows[i].status == "pending" and rows[i].wait_reason == WaitReason.WORKER_LOST
        assert rows[i].unknown_since is not None and rows[i].attempts == 0
    assert {rows[i].status for i in ids[2:]} == {"inflight"}


def _worker(env: dict[str, str], periodic: bool) -> subprocess.Popen:
    args = [sys.executable, "-m", "workers.run", "--queues", EMAIL]
    if not periodic:
        args.append("--no-periodic")
    return subprocess.Popen(
        args,
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # the worker and its RQ scheduler child go together
    )


@pytest.mark.parametrize("engine", ["sqlite", "postgres"], indirect=True)
def test_a_sigkilled_workers_batch_is_taken_over_within_15_s_without_duplicates(
    engine: Engine,
    redis_client: object,
    fake_resend: FakeResend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lease stays 120 s: only the heartbeat can make this fast."""
    monkeypatch.setenv("PROVIDER_TIMEOUT_S", "10")
    with send_settings(engine, fake_resend, None) as env, Session(engine) as session:
        set_limits(session)
        seed_customers(session, 300)
        campaign_id = make_campaign(session)
        victim, survivor = _worker(env, periodic=False), _worker(env, periodic=True)
        try:
            _wait_for(lambda: len(Worker.all(queue=get_queue(EMAIL))) == 2)
            fake_resend.delay_s = 1.0  # each batch call is slow: the kill lands inside one
            sending.start_send(session, campaign_id)

            def victim_holds_a_batch() -> bool:
                holders = session.execute(
                    select(Delivery.lease_holder).where(Delivery.status == "inflight")
                ).scalars()
                return any(h and f":{victim.pid}:" in h for h in holders)

            _wait_for(victim_holds_a_batch)
            _wait_for(lambda: fake_resend.requests >= 1)
            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait(timeout=10)
            killed_at = time.monotonic()

            _wait_for(lambda: campaign_status(session, campaign_id) != "sending", timeout_s=60)
            took = time.monotonic() - killed_at
        finally:
            for proc in (victim, survivor):
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=30)

        assert campaign_status(session, campaign_id) == "sent"
        assert took < 15, f"took {took:.1f} s after the kill"
        counts = fake_resend.count_by_recipient()
        assert len(counts) == 300 and set(counts.values()) == {1}
        attempts = session.execute(select(func.max(Delivery.attempts))).scalar_one()
        assert attempts == 1  # the dead worker's try was never an answer


def test_the_brake_and_the_failure_reason_follow_the_rows_as_they_are_now(env: Session) -> None:
    seed_customers(env, 60)
    campaign_id = make_campaign(env)
    sending.start_send(env, campaign_id)
    get_queue(EMAIL).empty()
    ids = [r.id for r in _rows(env, campaign_id)]
    env.execute(update(Delivery).values(status=DeliveryStatus.SENT.value))
    env.commit()

    # The live counters say everything failed; the rows say everything was sent.
    assert not sending.abort_if_failing(env, campaign_id, {"email:failed": 100})
    assert campaign_status(env, campaign_id) == "sending"

    env.execute(
        update(Delivery).where(Delivery.id.in_(ids[:40])).values(status=DeliveryStatus.FAILED)
    )
    env.commit()
    assert sending.abort_if_failing(env, campaign_id, {"email:failed": 40, "email:sent": 20})
    campaign = env.get(Campaign, campaign_id)
    assert campaign is not None and campaign.failure_reason.startswith("40 of 60 messages failed")

    # Later, replays confirm most of them went out after all: the reason says so.
    env.execute(
        update(Delivery).where(Delivery.id.in_(ids[:30])).values(status=DeliveryStatus.SENT)
    )
    env.commit()
    sending.live.forget_progress(campaign_id)
    progress = sending.progress(env, campaign_id)
    assert progress is not None and progress.status == "failed"
    assert "as of now 10 of 60 messages failed (17%)" in progress.failure_reason
    assert "threshold" in progress.failure_reason


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_missing_heartbeat_is_a_dead_holder(redis_client: object, engine: Engine) -> None:
    with send_settings(engine, None, None):
        beat = heartbeat.key("x")
        assert beat.endswith(":send:worker:x")
        assert heartbeat.dead(["never-started"]) == {"never-started"}
        heartbeat.beat("x")
        assert heartbeat.dead(["x"]) == set()
