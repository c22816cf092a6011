"""An A/B test through real RQ workers and the real Resend client against the loopback fake:
the test share gets its variants, the scheduler tick decides, the rest gets the winner, and
every recipient receives exactly one email."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from marketing_ui.core import ab_tests, sending
from marketing_ui.core.ab_tests import AbSettings, VariantDraft
from marketing_ui.core.clock import utcnow
from marketing_ui.core.models import Campaign, Delivery, Event
from tests.fakes.resend_server import FakeResend
from tests.workers.sending_harness import (
    campaign_status,
    drain,
    make_campaign,
    seed_customers,
    send_settings,
    set_limits,
)
from workers import scheduler


@pytest.fixture
def fake_resend() -> Iterator[FakeResend]:
    with FakeResend() as fake:
        yield fake


@pytest.fixture
def env(engine: Engine, redis_client: object, fake_resend: FakeResend) -> Iterator[Session]:
    with send_settings(engine, fake_resend, None), Session(engine) as session:
        set_limits(session)
        yield session


def test_a_test_and_its_decision_send_each_recipient_exactly_one_email(
    env: Session, fake_resend: FakeResend
) -> None:
    seed_customers(env, 90)
    campaign_id = make_campaign(env, subject="Subject A")
    campaign = env.get(Campaign, campaign_id)
    assert campaign is not None
    b = VariantDraft("B", "Subject B", "", campaign.mjml_body)
    ab_tests.save_test(env, campaign_id, AbSettings(40, "clicks", 2), [b])

    sending.start_send(env, campaign_id)
    assert drain(env, campaign_id) == "sending"  # the test share is out; the rest waits

    test_share = fake_resend.messages
    assert 15 <= len(test_share) <= 60  # 40% of 90 = 36
    assert Counter(m["subject"] for m in test_share).keys() == {"Subject A", "Subject B"}
    scheduler.tick()  # the window (2 h) has not passed: nothing more goes out
    assert drain(env, campaign_id) == "sending"
    assert len(fake_resend.messages) == len(test_share)
    env.expire_all()
    rows = env.execute(
        select(Delivery.id, Delivery.variant_id).where(Delivery.campaign_id == campaign_id)
    ).all()
    labels = {v.id: v.label for v in ab_tests.variants(env, campaign_id)}
    for delivery_id, variant_id in rows:
        if labels[variant_id] == "B":  # people click B
            env.add(Event(campaign_id=campaign_id, delivery_id=delivery_id, type="clicked"))
    env.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(sent_at=utcnow() - timedelta(hours=3))
    )
    env.commit()

    scheduler.tick()  # decides, freezes the rest with B and queues it
    scheduler.tick()  # a second tick decides nothing more
    assert drain(env, campaign_id) == "sent"

    counts = fake_resend.count_by_recipient()
    assert len(counts) == 90 and set(counts.values()) == {1}
    rest = fake_resend.messages[len(test_share) :]
    assert len(rest) == 90 - len(test_share)
    assert {m["subject"] for m in rest} == {"Subject B"}
    assert campaign_status(env, campaign_id) == "sent"
