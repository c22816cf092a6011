"""The holdout group: a random share drawn at the freeze among those who would be messaged,
recorded as skipped deliveries (skip_reason holdout), never sent; per customer across channels;
never for automation batches; the option refused outside 0-50 naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from marketing_ui.core import campaigns, sending
from marketing_ui.core.analytics import campaign_funnel
from marketing_ui.core.app_settings import update_frequency_cap
from marketing_ui.core.clock import utcnow
from marketing_ui.core.models import (
    Automation,
    Campaign,
    CampaignStatus,
    Channel,
    Customer,
    Delivery,
    DeliveryStatus,
    OutboxMessage,
    SkipReason,
)
from marketing_ui.core.sending import holdout
from marketing_ui.core.sending.commands import _freeze
from tests.workers.sending_harness import drain, make_campaign, seed_customers, send_settings

N = 2_000


@pytest.fixture
def env(engine: Engine, redis_client: object) -> Iterator[Session]:
    """This test's database behind the app's settings (outbox providers, own queue prefix)."""
    with send_settings(engine, None, None), Session(engine) as session:
        yield session


def _bulk_customers(session: Session, n: int, sms: bool = False) -> list[int]:
    """n reachable customers in one INSERT (blind indexes stand in for addresses: the freeze
    never decrypts anything)."""
    start = session.execute(select(Customer.id).order_by(Customer.id.desc())).scalar() or 0
    rows = [
        Customer(
            uid=f"u{start + i:031d}",
            email_bidx=f"e{start + i:063d}",
            phone_bidx=f"p{start + i:063d}" if sms else None,
            email_consent=True,
            sms_consent=sms,
            first_name="Guest",
        ).model_dump(exclude={"id"})
        for i in range(n)
    ]
    session.execute(insert(Customer), rows)
    session.commit()
    return list(session.execute(select(Customer.id).where(Customer.id > start)).scalars())


def _by_customer(session: Session, campaign_id: int) -> dict[tuple[int, str], tuple[str, str]]:
    session.expire_all()
    rows = session.execute(
        select(Delivery.customer_id, Delivery.channel, Delivery.status, Delivery.skip_reason)
        .where(Delivery.campaign_id == campaign_id)
    ).all()  # fmt: skip
    return {(cid, ch): (status, reason) for cid, ch, status, reason in rows}


def _earlier_sent(session: Session, customer_ids: list[int]) -> None:
    """One message each from an earlier campaign yesterday (so a cap of 1 holds them back)."""
    at = utcnow() - timedelta(days=1)
    earlier = Campaign(name="Earlier", status=CampaignStatus.SENT.value)
    session.add(earlier)
    session.commit()
    session.execute(
        insert(Delivery),
        [
            {"campaign_id": earlier.id, "customer_id": c, "channel": "email",
             "status": DeliveryStatus.SENT.value, "sent_at": at, "created_at": at,
             "updated_at": at, "attempts": 1, "error": "", "skip_reason": "",
             "wait_reason": ""}
            for c in customer_ids
        ],
    )  # fmt: skip
    session.commit()


HOLDOUT = (DeliveryStatus.SKIPPED.value, SkipReason.HOLDOUT.value)
CAPPED = (DeliveryStatus.SKIPPED.value, SkipReason.FREQUENCY_CAP.value)


def test_a_random_share_is_held_out_never_sent_and_cap_skipped_are_not_drawn(
    env: Session,
) -> None:
    ids = _bulk_customers(env, N)
    capped = ids[:200]
    _earlier_sent(env, capped)
    update_frequency_cap(env, {"email_max": "1", "sms_max": "1", "window_days": "7"})
    campaign_id = make_campaign(env, holdout_percent=20)

    result = sending.start_send(env, campaign_id)

    frozen = _by_customer(env, campaign_id)
    assert len(frozen) == N
    assert all(frozen[(c, "email")] == CAPPED for c in capped)  # the cap decides first
    drawn_from = N - len(capped)
    held = [c for (c, _), v in frozen.items() if v == HOLDOUT]
    # 20% of 1,800 is 360; the binomial sd is about 17: 5 sd either side never fails by chance.
    assert 275 <= len(held) <= 445, len(held)
    assert not set(held) & set(capped)
    pending = sum(1 for v in frozen.values() if v == (DeliveryStatus.PENDING.value, ""))
    assert pending + len(held) == drawn_from
    assert f"{len(held):,} held out" in result.message
    assert result.message.startswith(f"Sending to {pending:,} recipients.")

    progress = sending.progress(env, campaign_id)
    assert progress is not None
    [email] = progress.channels
    assert email.held_out == len(held)
    assert email.held_back == len(capped)
    report = campaign_funnel(env, campaign_id)
    assert report.funnel.held_out == len(held)
    assert report.funnel.skipped == len(capped)  # held out is not a skip to fix
    assert report.funnel.targeted == N - len(held)


def test_the_holdout_is_never_messaged(env: Session) -> None:
    seed_customers(env, 24)
    campaign_id = make_campaign(env, holdout_percent=50)
    sending.start_send(env, campaign_id)
    held = {c for (c, _), v in _by_customer(env, campaign_id).items() if v == HOLDOUT}
    assert 0 < len(held) < 24  # P(all or none of 24 at 50%) is 6e-8

    assert drain(env, campaign_id) == CampaignStatus.SENT.value

    after = _by_customer(env, campaign_id)
    assert {c for (c, _), v in after.items() if v == HOLDOUT} == held
    sent = {c for (c, _), v in after.items() if v[0] == DeliveryStatus.SENT.value}
    assert sent == {c for c, _ in after} - held
    outbox = env.execute(
        select(Delivery.customer_id).join(OutboxMessage, OutboxMessage.delivery_id == Delivery.id)
    ).scalars()
    assert set(outbox) == sent


def test_a_second_freeze_draws_nothing_new(env: Session) -> None:
    _bulk_customers(env, 500)
    campaign_id = make_campaign(env, holdout_percent=30)
    sending.start_send(env, campaign_id)
    first = _by_customer(env, campaign_id)
    campaign = env.get(Campaign, campaign_id)
    assert campaign is not None

    def everyone(channel: Channel):  # noqa: ANN202 - a clause
        from marketing_ui.core.audience import reachable_clause

        return reachable_clause(channel)

    later = utcnow()
    _freeze(env, campaign, Channel.EMAIL, later, everyone)  # inserts nothing: all exist
    assert holdout.hold_out(env, campaign_id, Channel.EMAIL, later, 30) == 0
    env.commit()
    assert _by_customer(env, campaign_id) == first
    assert sending.start_send(env, campaign_id).created is False
    assert _by_customer(env, campaign_id) == first


def test_both_channels_hold_out_the_same_customers(env: Session) -> None:
    _bulk_customers(env, 600, sms=True)
    campaign_id = make_campaign(env, channel="both", holdout_percent=25)

    sending.start_send(env, campaign_id)

    frozen = _by_customer(env, campaign_id)
    held_email = {c for (c, ch), v in frozen.items() if ch == "email" and v == HOLDOUT}
    held_sms = {c for (c, ch), v in frozen.items() if ch == "sms" and v == HOLDOUT}
    assert held_email == held_sms
    assert 80 <= len(held_email) <= 220
    assert holdout.held_out_count(env, campaign_id) == len(held_email)


def test_no_holdout_means_everyone_is_messaged(env: Session) -> None:
    _bulk_customers(env, 300)
    campaign_id = make_campaign(env)
    sending.start_send(env, campaign_id)
    assert HOLDOUT not in _by_customer(env, campaign_id).values()


def test_automation_batches_never_hold_out(env: Session) -> None:
    ids = _bulk_customers(env, 300)
    automation = Automation(kind="welcome", channel="email")
    env.add(automation)
    env.commit()
    batch_id = make_campaign(env, automation_id=automation.id, holdout_percent=50)

    sending.start_batch(env, batch_id, select(Customer.id).where(Customer.id.in_(ids)))

    assert HOLDOUT not in _by_customer(env, batch_id).values()


@pytest.mark.parametrize(
    ("raw", "stored"), [("", 0), ("0", 0), (" 10 ", 10), ("50", 50), ("15%", 15), (None, 0)]
)
def test_the_option_accepts_whole_percent_from_0_to_50(
    session: Session, raw: object, stored: int
) -> None:
    campaign_id = make_campaign(session)
    assert campaigns.save_holdout(session, campaign_id, raw).holdout_percent == stored


@pytest.mark.parametrize("raw", ["51", "-1", "12.5", "ten", "100", "1e3", "∞"])
def test_bad_holdout_is_refused_naming_the_field_and_keeps_the_stored_value(
    session: Session, raw: str
) -> None:
    campaign_id = make_campaign(session, holdout_percent=10)
    with pytest.raises(campaigns.CampaignError, match="^Hold out: "):
        campaigns.save_holdout(session, campaign_id, raw)
    session.expire_all()
    assert session.get(Campaign, campaign_id).holdout_percent == 10


def test_holdout_cannot_change_once_sent_and_is_kept_by_a_duplicate(session: Session) -> None:
    campaign_id = make_campaign(session, holdout_percent=10)
    copy = campaigns.duplicate_campaign(session, campaign_id)
    assert copy.holdout_percent == 10
    session.execute(
        update(Campaign).where(Campaign.id == campaign_id).values(status=CampaignStatus.SENT.value)
    )
    session.commit()
    with pytest.raises(campaigns.CampaignError, match="can no longer be edited"):
        campaigns.save_holdout(session, campaign_id, "20")
