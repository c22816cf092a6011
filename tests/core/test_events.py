"""Event recording on SQLite and PostgreSQL: idempotency, unique vs total, consent side effects."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from marketing_ui.core import events
from marketing_ui.core.crypto import blind_indexer
from marketing_ui.core.models import (
    ConsentEvent,
    Customer,
    Delivery,
    Event,
    EventType,
    Suppression,
)
from tests.api import add_delivery, seed_email_delivery


def _count(session: Session, *where) -> int:  # noqa: ANN002
    return session.execute(select(func.count()).select_from(Event).where(*where)).scalar_one()


def test_record_event_is_idempotent_on_provider_event_id(session: Session) -> None:
    seeded = seed_email_delivery(session)
    ref = events.delivery_ref(session, seeded.delivery_id)
    assert events.record_event(session, EventType.DELIVERED, delivery=ref, provider_event_id="e1")
    assert not events.record_event(
        session, EventType.DELIVERED, delivery=ref, provider_event_id="e1"
    )
    assert events.record_event(session, EventType.DELIVERED, delivery=ref, provider_event_id="e2")
    session.commit()
    assert _count(session) == 2
    with pytest.raises(ValueError):
        events.record_event(session, EventType.SENT, provider_event_id="x" * 129)


def test_concurrent_replays_store_one_event_and_one_side_effect(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as s:
        seeded = seed_email_delivery(s)
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def deliver_complaint() -> None:
        with Session(engine) as s:
            ref = events.delivery_ref(s, seeded.delivery_id)
            barrier.wait()
            results.append(events.apply_complaint(s, ref, provider_event_id="svix-same"))
            s.commit()

    threads = [threading.Thread(target=deliver_complaint) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    with Session(engine) as s:
        assert _count(s) == 1
        assert s.execute(select(func.count()).select_from(Suppression)).scalar_one() == 1
        complaints = s.execute(
            select(func.count()).select_from(ConsentEvent).where(ConsentEvent.source == "complaint")
        ).scalar_one()
        assert complaints == 1


def test_opens_are_all_stored_and_unique_is_distinct_delivery(session: Session) -> None:
    a = seed_email_delivery(session, email="a@example.com")
    b = seed_email_delivery(session, email="b@example.com", campaign_name="B")
    for delivery_id in (a.delivery_id, a.delivery_id, a.delivery_id, b.delivery_id):
        assert events.record_open(session, delivery_id)
    assert not events.record_open(session, 999_999)  # unknown delivery: nothing stored
    session.commit()
    assert _count(session, Event.type == "opened") == 4
    unique = session.execute(
        select(func.count(func.distinct(Event.delivery_id))).where(Event.type == "opened")
    ).scalar_one()
    assert unique == 2


def test_activity_only_moves_forward(session: Session) -> None:
    seeded = seed_email_delivery(session)
    late = datetime(2030, 1, 2, tzinfo=UTC)
    events.record_click(session, seeded.delivery_id, "https://x.example/", at=late)
    events.record_open(session, seeded.delivery_id, at=late - timedelta(days=1))
    session.commit()
    session.expire_all()
    stored = session.get(Customer, seeded.customer_id).last_activity_at
    assert stored.replace(tzinfo=UTC) == late


def test_unsubscribe_skips_pending_email_only_and_records_once(session: Session) -> None:
    seeded = seed_email_delivery(session)
    pending = add_delivery(session, seeded.customer_id)
    pending_sms = add_delivery(session, seeded.customer_id, channel="sms")
    inflight = add_delivery(session, seeded.customer_id, status="inflight")
    outcome = events.unsubscribe(session, seeded.customer_uid, seeded.campaign_id)
    session.commit()
    assert outcome.changed and outcome.skipped_deliveries == 1
    statuses = {d.id: d.status for d in session.execute(select(Delivery)).scalars()}
    assert statuses[pending] == "skipped"
    assert statuses[pending_sms] == "pending"
    assert statuses[inflight] == "inflight"  # the worker re-checks consent before sending
    again = events.unsubscribe(session, seeded.customer_uid, seeded.campaign_id)
    session.commit()
    assert not again.changed
    assert _count(session, Event.type == "unsubscribed") == 1
    assert events.unsubscribe(session, "0" * 32, None) is None
    assert events.resubscribe(session, seeded.customer_uid, None) is True
    session.commit()
    session.expire_all()
    assert session.get(Customer, seeded.customer_id).email_consent is True


def test_hard_bounce_then_stop_and_start(session: Session) -> None:
    seeded = seed_email_delivery(session, phone="+12025550143")
    ref = events.delivery_ref(session, seeded.delivery_id)
    assert events.apply_bounce(session, ref, hard=True, reason="Permanent", provider_event_id="b1")
    assert events.sms_opt_out(session, "(202) 555-0143", keyword="STOP") == 1
    session.commit()
    session.expire_all()
    customer = session.get(Customer, seeded.customer_id)
    assert (customer.email_consent, customer.sms_consent) == (False, False)
    reasons = set(session.execute(select(Suppression.channel, Suppression.reason)).all())
    assert reasons == {("email", "bounce"), ("sms", "stop")}
    assert events.sms_opt_in(session, "+12025550143", keyword="START") == 1
    session.commit()
    reasons = set(session.execute(select(Suppression.channel, Suppression.reason)).all())
    assert reasons == {("email", "bounce")}  # START never lifts a bounce suppression
    assert events.sms_opt_out(session, "not a number") == 0
    phone_bidx = blind_indexer().phone("+12025550143")
    assert session.get(Customer, seeded.customer_id).phone_bidx == phone_bidx


def test_flush_writes_buffered_hits_in_bulk(session: Session, redis_client: redis.Redis) -> None:
    seeded = seed_email_delivery(session)
    key = redis_client.prefix + "tracking"  # type: ignore[attr-defined]
    for _ in range(3):
        events.buffer_tracking_event(redis_client, key, "o", seeded.delivery_id)
    events.buffer_tracking_event(redis_client, key, "c", seeded.delivery_id, "https://x.example/")
    events.buffer_tracking_event(redis_client, key, "o", 424242)  # unknown delivery: dropped
    redis_client.rpush(key, b"\xff not json", json.dumps({"k": "o", "d": "1; DROP TABLE", "t": 1}))
    assert events.flush_tracking_buffer(session, redis_client, key, limit=2) == 2
    assert events.flush_tracking_buffer(session, redis_client, key) == 2
    assert events.flush_tracking_buffer(session, redis_client, key) == 0
    assert redis_client.llen(key) == 0
    assert _count(session, Event.type == "opened") == 3
    assert _count(session, Event.type == "clicked") == 1
    assert session.get(Customer, seeded.customer_id).last_activity_at is not None


def test_failed_flush_puts_items_back(session: Session, redis_client: redis.Redis) -> None:
    seeded = seed_email_delivery(session)
    key = redis_client.prefix + "tracking"  # type: ignore[attr-defined]
    events.buffer_tracking_event(redis_client, key, "o", seeded.delivery_id)
    events.buffer_tracking_event(redis_client, key, "o", seeded.delivery_id)
    before = redis_client.lrange(key, 0, -1)
    session.commit()
    Event.__table__.drop(session.get_bind())  # the insert now fails as in a DB outage
    with pytest.raises(sa_exc.DBAPIError):
        events.flush_tracking_buffer(session, redis_client, key)
    assert redis_client.lrange(key, 0, -1) == before
    Event.__table__.create(session.get_bind())
    assert events.flush_tracking_buffer(session, redis_client, key) == 2
