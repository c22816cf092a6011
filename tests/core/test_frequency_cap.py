"""The frequency cap: a customer at the cap is held back at the freeze, counted and shown by
reason; campaigns and automation batches count alike, per channel, in a rolling window."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from marketing_ui.core import sending
from marketing_ui.core.analytics import campaign_funnel
from marketing_ui.core.app_settings import (
    FrequencyCap,
    SettingsError,
    fixed_by_environment,
    frequency_cap,
    update_frequency_cap,
)
from marketing_ui.core.audience import Audience
from marketing_ui.core.clock import utcnow
from marketing_ui.core.config import Settings, reset_settings_cache
from marketing_ui.core.events import unsubscribe
from marketing_ui.core.models import (
    Automation,
    Campaign,
    CampaignStatus,
    Customer,
    Delivery,
    DeliveryStatus,
    SkipReason,
)
from tests.workers.sending_harness import make_campaign, seed_customers, send_settings


@pytest.fixture
def env(engine: Engine, redis_client: object) -> Iterator[Session]:
    """This test's database behind the app's settings (outbox providers, own queue prefix)."""
    with send_settings(engine, None, None), Session(engine) as session:
        yield session


def _earlier(
    session: Session,
    customer_ids: list[int],
    channel: str = "email",
    status: DeliveryStatus = DeliveryStatus.SENT,
    days_ago: float = 1,
    automation_id: int | None = None,
) -> int:
    """A campaign sent before, with one delivery per customer `days_ago` days back."""
    at = utcnow() - timedelta(days=days_ago)
    campaign = Campaign(
        name="Earlier",
        channel=channel,
        status=CampaignStatus.SENT.value,
        audience_json=Audience().to_json(),
        automation_id=automation_id,
    )
    session.add(campaign)
    session.commit()
    assert campaign.id is not None
    sent = status in (DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.BOUNCED)
    for cid in customer_ids:
        session.add(
            Delivery(
                campaign_id=campaign.id,
                customer_id=cid,
                channel=channel,
                status=status.value,
                sent_at=at if sent else None,
                created_at=at,
                updated_at=at,
            )
        )
    session.commit()
    return campaign.id


def _frozen(session: Session, campaign_id: int) -> dict[int, tuple[str, str]]:
    """customer id -> (status, skip_reason) of one campaign's deliveries."""
    session.expire_all()
    rows = session.execute(
        select(Delivery.customer_id, Delivery.status, Delivery.skip_reason).where(
            Delivery.campaign_id == campaign_id
        )
    ).all()
    return {cid: (status, reason) for cid, status, reason in rows}


def _cap(session: Session, email: int, sms: int, days: int = 7) -> None:
    update_frequency_cap(
        session, {"email_max": str(email), "sms_max": str(sms), "window_days": str(days)}
    )


HELD = (DeliveryStatus.SKIPPED.value, SkipReason.FREQUENCY_CAP.value)
PENDING = (DeliveryStatus.PENDING.value, "")


def test_a_customer_at_the_cap_is_held_back_counted_and_shown(env: Session) -> None:
    at_cap, below, fresh = seed_customers(env, 3)
    _cap(env, email=2, sms=2)
    _earlier(env, [at_cap, below])
    _earlier(env, [at_cap], days_ago=3)
    campaign_id = make_campaign(env)

    result = sending.start_send(env, campaign_id)

    assert _frozen(env, campaign_id) == {at_cap: HELD, below: PENDING, fresh: PENDING}
    assert result.message == "Sending to 2 recipients. 1 held back by the frequency cap (Settings)."
    progress = sending.progress(env, campaign_id)
    assert progress is not None
    [email] = progress.channels
    assert (email.total, email.skipped, email.held_back, email.pending) == (3, 1, 1, 2)
    assert email.skipped_by_reason == {SkipReason.FREQUENCY_CAP.value: 1}
    report = campaign_funnel(env, campaign_id)
    assert (report.funnel.skipped, report.funnel.held_back) == (1, 1)
    assert report.by_channel["email"].held_back == 1


def test_messages_about_to_go_count_and_failed_or_cancelled_ones_do_not(env: Session) -> None:
    queued, inflight, failed, cancelled = seed_customers(env, 4)
    _cap(env, email=1, sms=1)
    _earlier(env, [queued], status=DeliveryStatus.PENDING)
    _earlier(env, [inflight], status=DeliveryStatus.INFLIGHT)
    _earlier(env, [failed], status=DeliveryStatus.FAILED)
    _earlier(env, [cancelled], status=DeliveryStatus.CANCELLED)
    campaign_id = make_campaign(env)

    sending.start_send(env, campaign_id)

    frozen = _frozen(env, campaign_id)
    assert (frozen[queued], frozen[inflight]) == (HELD, HELD)
    assert (frozen[failed], frozen[cancelled]) == (PENDING, PENDING)


def test_only_messages_inside_the_rolling_window_count(env: Session) -> None:
    inside, outside = seed_customers(env, 2)
    _cap(env, email=1, sms=1, days=7)
    _earlier(env, [inside], days_ago=6.9)
    _earlier(env, [outside], days_ago=7.1)
    campaign_id = make_campaign(env)

    sending.start_send(env, campaign_id)

    assert _frozen(env, campaign_id) == {inside: HELD, outside: PENDING}


def test_zero_means_no_cap(env: Session) -> None:
    [busy] = seed_customers(env, 1)
    _cap(env, email=0, sms=1)
    for _ in range(5):
        _earlier(env, [busy])
    campaign_id = make_campaign(env)

    sending.start_send(env, campaign_id)

    assert _frozen(env, campaign_id) == {busy: PENDING}


def test_each_channel_has_its_own_cap(env: Session) -> None:
    [guest] = seed_customers(env, 1, sms=True)
    _cap(env, email=1, sms=1)
    _earlier(env, [guest], channel="email")
    campaign_id = make_campaign(env, channel="both")

    sending.start_send(env, campaign_id)

    env.expire_all()
    rows = env.execute(
        select(Delivery.channel, Delivery.status, Delivery.skip_reason).where(
            Delivery.campaign_id == campaign_id
        )
    ).all()
    assert sorted(rows) == [("email", *HELD), ("sms", *PENDING)]


def test_automation_batches_count_like_campaigns_and_are_capped_too(env: Session) -> None:
    welcomed, other = seed_customers(env, 2)
    _cap(env, email=1, sms=1)
    automation = Automation(kind="welcome", channel="email")
    env.add(automation)
    env.commit()
    _earlier(env, [welcomed], automation_id=automation.id)
    _earlier(env, [other])
    batch_id = make_campaign(env, automation_id=automation.id)

    sending.start_batch(
        env, batch_id, select(Customer.id).where(Customer.id.in_([welcomed, other]))
    )

    assert _frozen(env, batch_id) == {welcomed: HELD, other: HELD}
    assert env.get(Campaign, batch_id).status == CampaignStatus.SENT  # nothing left to send


def test_the_send_page_says_how_many_the_cap_will_hold_back(env: Session) -> None:
    at_cap, _ = seed_customers(env, 2)
    _cap(env, email=1, sms=1)
    _earlier(env, [at_cap])

    held = sending.held_back_counts(env, Audience(), "both", utcnow())

    assert held == {"email": 1, "sms": 0}  # nobody has a phone number: no SMS recipients


def test_skips_after_the_freeze_keep_their_reason(env: Session) -> None:
    [guest] = seed_customers(env, 1)
    campaign_id = make_campaign(env)
    env.add(Delivery(campaign_id=campaign_id, customer_id=guest, channel="email", status="pending"))
    env.commit()
    uid = env.get(Customer, guest).uid

    unsubscribe(env, uid, campaign_id=campaign_id)
    env.commit()

    assert _frozen(env, campaign_id) == {
        guest: (DeliveryStatus.SKIPPED.value, SkipReason.CONSENT.value)
    }


# The setting ---------------------------------------------------------------------------------


def test_defaults_are_three_emails_and_two_texts_a_week(session: Session) -> None:
    cap = frequency_cap(session)

    assert (cap.email_max, cap.sms_max, cap.window_days) == (3, 2, 7)
    assert cap.describe() == "At most 3 emails and 2 texts per customer in any 7 days."


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"email_max": "-1"}, "Emails per customer per window: expected a whole number from 0"),
        ({"sms_max": "101"}, "Texts per customer per window: expected a whole number from 0"),
        ({"window_days": "0"}, "Frequency cap window (days): expected a whole number of days"),
        ({"window_days": "91"}, "Frequency cap window (days): expected a whole number of days"),
        ({"email_max": "three"}, "Emails per customer per window: expected a whole number, got"),
    ],
)
def test_wrong_values_are_named_and_nothing_is_saved(
    session: Session, form: dict[str, str], message: str
) -> None:
    update_frequency_cap(session, {"email_max": "4"})

    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        update_frequency_cap(session, {**form, "sms_max": form.get("sms_max", "5")})

    assert (frequency_cap(session).email_max, frequency_cap(session).sms_max) == (4, 2)


def test_the_environment_fixes_the_cap_over_the_settings_page(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FREQUENCY_CAP_EMAIL", "1")
    monkeypatch.setenv("FREQUENCY_CAP_DAYS", "14")
    reset_settings_cache()

    with pytest.raises(SettingsError, match="set by FREQUENCY_CAP_EMAIL in the environment"):
        update_frequency_cap(session, {"email_max": "5"})
    saved = update_frequency_cap(session, {"email_max": "1", "sms_max": "4"})

    assert (saved.email_max, saved.sms_max, saved.window_days) == (1, 4, 14)
    assert fixed_by_environment(FrequencyCap) == {"email_max": 1, "window_days": 14}
    monkeypatch.delenv("FREQUENCY_CAP_EMAIL")
    monkeypatch.delenv("FREQUENCY_CAP_DAYS")
    reset_settings_cache()
    assert frequency_cap(session) == FrequencyCap(sms_max=4)


def test_a_wrong_environment_value_names_the_variable() -> None:
    with pytest.raises(ValueError, match="FREQUENCY_CAP_DAYS: expected a whole number of days"):
        Settings(frequency_cap_days=120)
