"""The send pipeline end to end: real Redis, real RQ workers, SQLite and PostgreSQL, and the real
Resend/Twilio client code talking to loopback fakes that count what each recipient received."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from rq import SimpleWorker
from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from marketing_ui.core import sending
from marketing_ui.core.coupons import secrets_for_deliveries
from marketing_ui.core.crypto import blind_indexer
from marketing_ui.core.customers import CustomerInput, create_customer, set_consent
from marketing_ui.core.jobs import EMAIL
from marketing_ui.core.messages import SAMPLE_COUPON_CODE
from marketing_ui.core.models import (
    Campaign,
    Coupon,
    Customer,
    Delivery,
    Event,
    OutboxMessage,
    Suppression,
    WaitReason,
)
from marketing_ui.core.redis_client import get_redis
from marketing_ui.core.rendering import load_template
from marketing_ui.core.sms import analyze_sms
from marketing_ui.infra.rq_jobs import get_queue, queue_name
from tests.fakes.resend_server import FakeResend
from tests.fakes.twilio_server import FakeTwilio
from tests.workers.sending_harness import (
    campaign_status,
    drain,
    email_of,
    make_campaign,
    phone_of,
    run_worker_once,
    seed_customers,
    send_settings,
    set_limits,
    statuses,
    zone_at_hour,
)

# Claims, freezes and control run on both databases; the rest is dialect-neutral.
SQLITE_ONLY = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


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
    engine: Engine, redis_client: object, fake_resend: FakeResend, fake_twilio: FakeTwilio
) -> Iterator[Session]:
    """Settings pointing at this test's database, a fresh queue prefix and both fakes."""
    with send_settings(engine, fake_resend, fake_twilio), Session(engine) as session:
        set_limits(session)
        yield session


def test_double_start_creates_nothing_twice_and_everyone_gets_one_email(
    env: Session, fake_resend: FakeResend
) -> None:
    seed_customers(env, 120)
    campaign_id = make_campaign(env)

    first = sending.start_send(env, campaign_id)
    second = sending.start_send(env, campaign_id)

    assert first.created and first.recipients == {"email": 120}
    assert not second.created and second.recipients == {"email": 120}
    assert len(get_queue(EMAIL).get_job_ids()) == 2  # 100 + 20: only the first call queued
    assert drain(env, campaign_id) == "sent"
    counts = fake_resend.count_by_recipient()
    assert len(counts) == 120 and set(counts.values()) == {1}
    assert statuses(env, campaign_id) == {"sent": 120}
    sent_events = env.execute(
        select(func.count()).select_from(Event).where(Event.campaign_id == campaign_id)
    ).scalar_one()
    assert sent_events == 120
    message = fake_resend.messages[0]
    assert message["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["text"] and message["idempotency_key"].startswith("mk-")


def _coupon_campaign(session: Session) -> int:
    return make_campaign(
        session,
        channel="both",
        mjml_body=load_template("monday_special"),
        sms_body="Hi {{ first_name }}, your coupon: {{ coupon_url }}",
        has_qr_code=True,
        offer_text="Free tea",
    )


def _codes_sent(fake_resend: FakeResend, fake_twilio: FakeTwilio) -> dict[str, set[str]]:
    """Recipient -> the coupon codes and coupon-page links in what they received."""
    found: dict[str, set[str]] = {}
    for message in fake_resend.messages:
        for to in message["to"]:
            found.setdefault(to, set()).update(
                re.findall(r">([A-Z2-9]{4}-[A-Z2-9]{4})</div>", message["html"])
            )
    for message in fake_twilio.messages:
        found.setdefault(message["to"], set()).update(re.findall(r"/c/([\w-]+)", message["body"]))
    return found


def _count(session: Session, *conditions: object) -> int:
    query = select(func.count()).select_from(Coupon).where(*conditions)  # type: ignore[arg-type]
    return session.execute(query).scalar_one()


def test_every_qr_message_carries_its_own_coupon_issued_with_the_freeze(
    env: Session, fake_resend: FakeResend, fake_twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_customers(env, 20, sms=True, timezone=zone_at_hour(12))
    campaign_id = _coupon_campaign(env)
    queued: list[int] = []
    real_enqueue = sending.queueing.enqueue_deliveries

    def enqueue(campaign: int, channel: str, rows: list, **kw: object) -> int:
        with Session(env.get_bind()) as other:  # what a worker would see right now
            assert _count(other, Coupon.campaign_id == campaign) == 40  # the whole audience
        queued.extend(row if isinstance(row, int) else row[0] for row in rows)
        return real_enqueue(campaign, channel, rows, **kw)

    monkeypatch.setattr(sending.queueing, "enqueue_deliveries", enqueue)
    assert sending.start_send(env, campaign_id).recipients == {"email": 20, "sms": 20}
    assert sorted(queued) == sorted(set(queued)) and len(queued) == 40
    assert drain(env, campaign_id) == "sent"

    secrets = secrets_for_deliveries(env, queued)
    channel_of = dict(
        env.execute(
            select(Delivery.id, Delivery.channel).where(Delivery.campaign_id == campaign_id)
        ).all()
    )
    received = _codes_sent(fake_resend, fake_twilio)
    assert len(received) == 40 and all(len(codes) == 1 for codes in received.values())
    emailed = {c for m in fake_resend.messages for c in received[m["to"][0]]}
    texted = {c for m in fake_twilio.messages for c in received[m["to"]]}
    assert emailed == {s.short_code for i, s in secrets.items() if channel_of[i] == "email"}
    assert texted == {s.token for i, s in secrets.items() if channel_of[i] == "sms"}
    assert SAMPLE_COUPON_CODE not in emailed


def test_a_qr_delivery_without_a_coupon_fails_instead_of_getting_the_sample(
    env: Session, fake_resend: FakeResend
) -> None:
    """The preview's sample coupon must never reach a customer, whatever went wrong."""
    seed_customers(env, 40)  # one failure in 40 stays under the campaign's failure threshold
    campaign_id = make_campaign(
        env, mjml_body=load_template("monday_special"), has_qr_code=True, offer_text="Free tea"
    )
    sending.start_send(env, campaign_id)
    lost = env.execute(select(Coupon.delivery_id).order_by(Coupon.id).limit(1)).scalar_one()
    env.execute(delete(Coupon).where(Coupon.delivery_id == lost))
    env.commit()
    assert drain(env, campaign_id) == "sent"
    assert statuses(env, campaign_id) == {"sent": 39, "failed": 1}
    failed = env.get(Delivery, lost)
    assert failed.status == "failed" and "no coupon was issued" in failed.error
    assert SAMPLE_COUPON_CODE not in "".join(m["html"] for m in fake_resend.messages)
    assert len(fake_resend.messages) == 39


def test_cancel_voids_only_the_coupons_that_never_went_out(
    env: Session, fake_resend: FakeResend
) -> None:
    seed_customers(env, 150)
    campaign_id = make_campaign(
        env, mjml_body=load_template("monday_special"), has_qr_code=True, offer_text="Free tea"
    )
    sending.start_send(env, campaign_id)
    worker = SimpleWorker([queue_name(EMAIL)], connection=get_redis(), name=uuid.uuid4().hex)
    worker.work(burst=True, max_jobs=1, logging_level="WARNING")  # the first 100 go out
    assert sending.cancel(env, campaign_id) == 50
    env.expire_all()
    sent_ids = env.execute(
        select(Delivery.id).where(Delivery.campaign_id == campaign_id, Delivery.status == "sent")
    ).scalars()
    assert _count(env, Coupon.status == "issued") == 100
    assert _count(env, Coupon.status == "issued", Coupon.delivery_id.in_(list(sent_ids))) == 100
    assert _count(env, Coupon.status == "cancelled") == 50


def test_unsubscribed_or_suppressed_after_freeze_get_nothing(
    env: Session, fake_resend: FakeResend
) -> None:
    ids = seed_customers(env, 30)
    campaign_id = make_campaign(env)
    sending.start_send(env, campaign_id)
    # After the audience froze: two unsubscribe, one address gets suppressed.
    set_consent(env, ids[0], "email", False, "unsubscribe_link")
    set_consent(env, ids[1], "email", False, "unsubscribe_link")
    env.add(Suppression(channel="email", value_bidx=blind_indexer().email(email_of(2)), reason="x"))
    env.commit()

    assert drain(env, campaign_id) == "sent"

    counts = fake_resend.count_by_recipient()
    assert all(email_of(i) not in counts for i in range(3))
    assert len(counts) == 27 and set(counts.values()) == {1}
    reasons = dict(
        env.execute(
            select(Delivery.customer_id, Delivery.error).where(Delivery.status == "skipped")
        ).all()
    )
    assert reasons == {ids[0]: "unsubscribed", ids[1]: "unsubscribed", ids[2]: "suppressed"}


@SQLITE_ONLY
def test_429_with_retry_after_slows_everyone_and_sends_once(
    env: Session, fake_resend: FakeResend
) -> None:
    set_limits(env, email_requests_per_s=1000.0)
    seed_customers(env, 60)
    campaign_id = make_campaign(env)
    fake_resend.fail_next(1, 429, retry_after=1)

    sending.start_send(env, campaign_id)
    run_worker_once()

    limiter_key = [k for k in get_redis().scan_iter(match="*:rl:email:resend:meta")]
    assert limiter_key, "the shared limiter holds the provider's pause"
    assert float(get_redis().hget(limiter_key[0], "until")) > 0
    retry_at = env.execute(select(func.min(Delivery.next_attempt_at))).scalar_one()
    assert retry_at is not None
    assert drain(env, campaign_id) == "sent"
    counts = fake_resend.count_by_recipient()
    assert len(counts) == 60 and set(counts.values()) == {1}
    attempts = env.execute(select(func.max(Delivery.attempts))).scalar_one()
    assert attempts == 2
    assert any("429" in e["reason"] for e in sending.recent_errors(campaign_id))


@SQLITE_ONLY
def test_accepted_but_unrecorded_batch_is_replayed_not_resent(
    env: Session, fake_resend: FakeResend
) -> None:
    """The provider stores the batch and then answers 500: the retry must reuse the key."""
    seed_customers(env, 25)
    campaign_id = make_campaign(env)
    fake_resend.accepted_then_500 = True

    sending.start_send(env, campaign_id)
    assert drain(env, campaign_id) == "sent"

    counts = fake_resend.count_by_recipient()
    assert len(counts) == 25 and set(counts.values()) == {1}
    assert fake_resend.requests >= 2


@SQLITE_ONLY
def test_permanent_failure_fails_that_one_and_suppresses_the_address(
    env: Session, fake_resend: FakeResend
) -> None:
    seed_customers(env, 10)
    bad = create_customer(env, CustomerInput(email="invalid-box@example.com", email_consent=True))
    env.commit()
    campaign_id = make_campaign(env)

    sending.start_send(env, campaign_id)
    assert drain(env, campaign_id) == "sent"  # 1 of 11 failed: under the 20% threshold

    assert statuses(env, campaign_id) == {"sent": 10, "failed": 1}
    failed = env.execute(select(Delivery).where(Delivery.customer_id == bad.id)).scalar_one()
    assert "rejected this recipient" in failed.error and "`to`" in failed.error  # the reason
    assert "invalid-box" not in failed.error  # not the address
    suppression = env.execute(
        select(Suppression).where(Suppression.value_bidx == bad.email_bidx)
    ).scalar_one()
    assert suppression.reason == "invalid"  # refused when sending; the provider's words kept
    assert suppression.detail == failed.error[:255]
    assert set(fake_resend.count_by_recipient().values()) == {1}


@SQLITE_ONLY
def test_the_provider_never_sees_more_than_its_request_limit_in_any_second(
    env: Session, fake_resend: FakeResend
) -> None:
    """A Resend that answers 429 above 5 requests in any sliding second: 600 emails in batches
    of 25 (24 requests) go out paced at its limit, with one bad stored address failing alone."""
    fake_resend.requests_per_s = 5
    set_limits(env, email_requests_per_s=5, emails_per_request=25)
    seed_customers(env, 599)
    bad = create_customer(env, CustomerInput(email="invalid-box@example.com", email_consent=True))
    env.commit()
    campaign_id = make_campaign(env)

    started = time.monotonic()
    sending.start_send(env, campaign_id)
    assert drain(env, campaign_id, timeout_s=60) == "sent"

    assert fake_resend.rate_limited == 0  # never over
    assert fake_resend.max_requests_in_window(1.0) <= 5
    assert fake_resend.requests == 24  # one request per 25 emails, the bad one inside its batch
    assert time.monotonic() - started >= 3.5  # 24 requests at 5 per second: paced, not burst
    assert statuses(env, campaign_id) == {"sent": 599, "failed": 1}
    failed = env.execute(select(Delivery).where(Delivery.customer_id == bad.id)).scalar_one()
    assert "rejected this recipient" in failed.error
    assert set(fake_resend.count_by_recipient().values()) == {1}


@SQLITE_ONLY
def test_campaign_fails_with_reason_past_the_threshold(
    env: Session, fake_resend: FakeResend
) -> None:
    for i in range(4):
        create_customer(env, CustomerInput(email=f"invalid{i}@example.com", email_consent=True))
    seed_customers(env, 2)
    campaign_id = make_campaign(env)

    sending.start_send(env, campaign_id)

    assert drain(env, campaign_id) == "failed"
    env.expire_all()
    progress = sending.progress(env, campaign_id)
    assert progress is not None and "threshold" in progress.failure_reason
    assert progress.channels[0].failed == 4 and progress.channels[0].sent == 2


def test_pause_then_resume_then_cancel(env: Session, fake_resend: FakeResend) -> None:
    seed_customers(env, 40)
    campaign_id = make_campaign(env)
    sending.start_send(env, campaign_id)
    assert sending.pause(env, campaign_id)

    run_worker_once()  # the queued jobs run while paused and claim nothing
    assert fake_resend.count_by_recipient() == {}
    assert campaign_status(env, campaign_id) == "paused"

    assert sending.resume(env, campaign_id)
    assert drain(env, campaign_id) == "sent"
    assert len(fake_resend.count_by_recipient()) == 40

    other = make_campaign(env)
    sending.start_send(env, other)
    assert sending.cancel(env, other) == 40
    run_worker_once()
    assert statuses(env, other) == {"cancelled": 40}
    assert campaign_status(env, other) == "cancelled"
    assert sum(fake_resend.count_by_recipient().values()) == 40  # nothing more went out


@SQLITE_ONLY
def test_retry_failed_only(env: Session, fake_resend: FakeResend) -> None:
    set_limits(env, max_attempts=1, failure_threshold_pct=100.0)
    seed_customers(env, 20)
    campaign_id = make_campaign(env)
    fake_resend.fail_next(1, 500)

    sending.start_send(env, campaign_id)
    assert drain(env, campaign_id) == "sent"
    assert statuses(env, campaign_id) == {"failed": 20}

    assert sending.retry_failed(env, campaign_id) == 20
    assert drain(env, campaign_id) == "sent"
    assert statuses(env, campaign_id) == {"sent": 20}
    assert set(fake_resend.count_by_recipient().values()) == {1}


@SQLITE_ONLY
def test_sms_quiet_hours_wait_for_the_recipients_morning(
    env: Session, fake_twilio: FakeTwilio
) -> None:
    day_ids = seed_customers(env, 3, sms=True, timezone=zone_at_hour(12))
    night_zone = zone_at_hour(3)
    env.execute(update(Customer).where(Customer.id == day_ids[2]).values(timezone=night_zone))
    env.commit()
    campaign_id = make_campaign(env, channel="sms")

    sending.start_send(env, campaign_id)
    assert drain(env, campaign_id) == "sending"  # the night one waits hours, not retried now

    assert sorted(fake_twilio.count_by_recipient()) == [phone_of(0), phone_of(1)]
    waiting = env.execute(select(Delivery).where(Delivery.customer_id == day_ids[2])).scalar_one()
    assert waiting.status == "pending" and waiting.wait_reason == WaitReason.QUIET_HOURS
    opens = waiting.next_attempt_at.replace(tzinfo=UTC)
    local = opens.astimezone(ZoneInfo(night_zone))
    assert (local.hour, local.minute) == (8, 0) and opens > datetime.now(UTC)
    progress = sending.progress(env, campaign_id)
    assert progress is not None and progress.channels[0].waiting_quiet_hours == 1
    assert [(w.reason, w.count) for w in progress.waits] == [("quiet_hours", 1)]
    assert progress.waits[0].resumes_at == opens.isoformat(timespec="seconds")
    body = fake_twilio.messages[0]["body"]
    assert body.startswith("Hi Guest") and "STOP" in body


@SQLITE_ONLY
def test_sms_with_unknown_outcome_is_looked_up_not_resent(
    env: Session, fake_twilio: FakeTwilio
) -> None:
    seed_customers(env, 4, sms=True, timezone=zone_at_hour(12))
    campaign_id = make_campaign(env, channel="sms")
    fake_twilio.accepted_then_500 = True  # Twilio stores each message, then answers 500

    sending.start_send(env, campaign_id)
    run_worker_once()
    fake_twilio.accepted_then_500 = False
    assert drain(env, campaign_id) == "sent"

    assert fake_twilio.count_by_recipient() == {phone_of(i): 1 for i in range(4)}
    sids = {m["sid"] for m in fake_twilio.messages}
    recorded = set(env.execute(select(Delivery.provider_message_id)).scalars())
    assert recorded == sids
    # Each accepted text keeps the segments it was billed for (message cost, issue 16).
    billed = {m["sid"]: analyze_sms(m["body"]).segments for m in fake_twilio.messages}
    kept = dict(env.execute(select(Delivery.provider_message_id, Delivery.segments)).all())
    assert kept == billed and all(n >= 1 for n in kept.values())


@SQLITE_ONLY
def test_scheduled_send_starts_when_due(env: Session, fake_resend: FakeResend) -> None:
    seed_customers(env, 5)
    campaign_id = make_campaign(env)
    sending.schedule_send(env, campaign_id, datetime.now(UTC) + timedelta(hours=1))
    assert sending.run_due_schedules(env) == []

    assert sending.run_due_schedules(env, now=datetime.now(UTC) + timedelta(hours=2)) == [
        campaign_id
    ]
    assert drain(env, campaign_id) == "sent"
    assert len(fake_resend.count_by_recipient()) == 5


@SQLITE_ONLY
def test_progress_counts_by_channel(env: Session, fake_resend: FakeResend) -> None:
    seed_customers(env, 12, sms=True, timezone=zone_at_hour(12))
    campaign_id = make_campaign(env, channel="both")
    sending.start_send(env, campaign_id)

    before = sending.progress(env, campaign_id)
    assert before is not None and [c.pending for c in before.channels] == [12, 12]
    assert before.percent == 0.0
    assert drain(env, campaign_id) == "sent"
    get_redis().delete(sending.live.key(campaign_id, "progress"))  # skip the 0.7 s cache
    after = sending.progress(env, campaign_id)
    assert after is not None and after.percent == 100.0
    assert {c.channel: c.sent for c in after.channels} == {"email": 12, "sms": 12}
    assert after.rate_per_s is None  # finished: no current rate


@SQLITE_ONLY
def test_a_cancelled_send_that_sent_nothing_is_not_shown_done(env: Session) -> None:
    seed_customers(env, 5)
    campaign_id = make_campaign(env)
    sending.start_send(env, campaign_id)

    assert sending.cancel(env, campaign_id) == 5
    shown = sending.progress(env, campaign_id)

    assert shown is not None and shown.status == "cancelled"
    assert shown.percent == 0.0 and [c.percent for c in shown.channels] == [0.0]
    assert shown.rate_per_s is None  # not sending: no current rate
    empty = make_campaign(env)
    assert sending.progress(env, empty).percent is None  # no recipients: no percentage at all


@SQLITE_ONLY
def test_the_rate_while_sending_is_the_real_pace_not_zero_between_lumps(env: Session) -> None:
    seed_customers(env, 3)
    campaign_id = make_campaign(env)
    sending.start_send(env, campaign_id)
    assert sending.progress(env, campaign_id).rate_per_s is None  # nothing sent yet: "–"

    # Workers record sends in lumps: 60 emails landed in one second 30 seconds ago.
    get_redis().hincrby(
        sending.live.key(campaign_id, "rate", str(int(time.time()) - 30)), "email", 60
    )
    get_redis().delete(sending.live.key(campaign_id, "progress"))  # skip the 0.7 s cache
    shown = sending.progress(env, campaign_id)

    assert shown.rate_per_s is not None and 1.5 < shown.rate_per_s <= 2.0  # 60 over ~30 s
    assert shown.channels[0].eta_s is not None


@SQLITE_ONLY
def test_send_test_goes_out_now_and_is_not_counted(
    env: Session, fake_resend: FakeResend, fake_twilio: FakeTwilio
) -> None:
    seed_customers(env, 1, sms=True)
    campaign_id = make_campaign(env, channel="both")

    # The box as typed: a comma, a new line, and a phone number written with spaces.
    spaced_phone = f"{phone_of(0)[:3]} {phone_of(0)[3:7]} {phone_of(0)[7:]}"
    typed = f"{email_of(0)}, owner@example.com\n{spaced_phone}"
    lines = sending.send_test(env, campaign_id, typed)

    assert all("sent" in line for line in lines), lines
    subjects = [m["subject"] for m in fake_resend.messages]
    assert subjects == ["[Test] Hello Guest0", "[Test] Hello Alex"]
    assert len(fake_twilio.messages) == 1 and fake_twilio.messages[0]["to"] == phone_of(0)
    assert fake_twilio.messages[0]["body"].startswith("[Test] ")
    assert env.execute(select(func.count()).select_from(Delivery)).scalar_one() == 0


@SQLITE_ONLY
def test_send_test_of_an_ab_campaign_sends_each_variant_marked(
    env: Session, fake_resend: FakeResend, fake_twilio: FakeTwilio
) -> None:
    from marketing_ui.core import ab_tests

    campaign_id = make_campaign(env, channel="both", subject="Subject A")
    body = env.get(Campaign, campaign_id).mjml_body  # type: ignore[union-attr]
    others = [
        ab_tests.VariantDraft(
            label, subject=f"Subject {label}", mjml_body=body, sms_body=f"SMS {label}"
        )
        for label in "BC"
    ]
    ab_tests.save_test(env, campaign_id, ab_tests.AbSettings(20, "clicks", 4), others)

    lines = sending.send_test(env, campaign_id, f"owner@example.com, {phone_of(0)}")

    assert len(lines) == 6 and all(line.endswith(" sent.") for line in lines), lines
    assert "owner@example.com: test email (variant B) sent." in lines
    assert [m["subject"] for m in fake_resend.messages] == [
        "[Test A] Subject A",
        "[Test B] Subject B",
        "[Test C] Subject C",
    ]
    bodies = [m["body"].split("\n")[0] for m in fake_twilio.messages]
    assert bodies == ["[Test A] Hi Alex, 2-for-1 pasta tonight", "[Test B] SMS B", "[Test C] SMS C"]
    assert env.execute(select(func.count()).select_from(Delivery)).scalar_one() == 0


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_outbox_provider_in_development(engine: Engine, redis_client: object) -> None:
    with send_settings(engine, None, None), Session(engine) as session:
        set_limits(session)
        seed_customers(session, 3)
        campaign_id = make_campaign(session)
        sending.start_send(session, campaign_id)
        assert drain(session, campaign_id) == "sent"
        stored = session.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()
        assert stored == 3
