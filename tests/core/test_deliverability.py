"""The deliverability guard: bounce and complaint rates per campaign, and when it pauses a send."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from marketing_ui.core import audit, deliverability, events, sending
from marketing_ui.core.app_settings import (
    DeliverabilityLimits,
    SettingsError,
    deliverability_limits,
    update_deliverability_limits,
)
from marketing_ui.core.clock import utcnow
from marketing_ui.core.config import reset_settings_cache
from marketing_ui.core.models import (
    AuditEntry,
    Campaign,
    CampaignStatus,
    Customer,
    Delivery,
    DeliveryStatus,
    PauseReason,
)
from tests.workers.sending_harness import send_settings

COMPLAINT_MESSAGE = (
    "Paused automatically: 0.4% of recipients marked it as spam (limit 0.3%). "
    "Check the content and the list before resuming."
)


@pytest.fixture
def session(engine: Engine, redis_client: object) -> Iterator[Session]:
    """This test's database, and queues and Redis keys of its own (resuming queues jobs)."""
    with send_settings(engine, None, None), Session(engine, expire_on_commit=False) as s:
        yield s


def _campaign(session: Session, channel: str = "email", status: str = "sending") -> int:
    campaign = Campaign(name="Weekend brunch", channel=channel, status=status, sent_at=utcnow())
    session.add(campaign)
    session.commit()
    assert campaign.id is not None
    return campaign.id


def _send(session: Session, campaign_id: int, n: int, channel: str = "email") -> list[int]:
    """n more recipients whose messages the provider accepted, sent now."""
    ids = []
    for _ in range(n):
        customer = Customer(email_bidx=secrets.token_hex(32), phone_bidx=secrets.token_hex(32))
        session.add(customer)
        session.flush()
        delivery = Delivery(
            campaign_id=campaign_id,
            customer_id=customer.id,  # type: ignore[arg-type]
            channel=channel,
            status=DeliveryStatus.SENT,
            provider_message_id=secrets.token_hex(8),
            sent_at=utcnow(),
        )
        session.add(delivery)
        session.flush()
        ids.append(delivery.id)
    session.commit()
    return ids


def _keep_sending(session: Session, campaign_id: int) -> None:
    """One recipient still waiting, so a resumed campaign goes on sending (not finishes)."""
    ids = _send(session, campaign_id, 1)
    session.execute(
        Delivery.__table__.update()
        .where(Delivery.id == ids[0])
        .values(status=DeliveryStatus.PENDING.value, sent_at=None)
    )
    session.commit()


def _ref(session: Session, delivery_id: int) -> events.DeliveryRef:
    ref = events.delivery_ref(session, delivery_id)
    assert ref is not None
    return ref


def _complain(session: Session, delivery_ids: list[int]) -> None:
    for did in delivery_ids:
        events.apply_complaint(session, _ref(session, did), provider_event_id=f"c-{did}")
    session.commit()


def _bounce(session: Session, delivery_ids: list[int], hard: bool = True) -> None:
    for did in delivery_ids:
        events.apply_bounce(
            session,
            _ref(session, did),
            hard=hard,
            reason="Permanent/General" if hard else "Transient/MailboxFull",
            provider_event_id=f"b-{did}",
        )
    session.commit()


def _status(session: Session, campaign_id: int) -> str:
    session.expire_all()
    campaign = session.get(Campaign, campaign_id)
    assert campaign is not None
    return campaign.status


def test_rates_count_hard_bounces_and_complaints_of_messages_sent(session: Session) -> None:
    cid = _campaign(session)
    ids = _send(session, cid, 40)
    _bounce(session, ids[:3])
    _bounce(session, ids[3:5], hard=False)  # soft: recorded, not a hard bounce
    _complain(session, ids[10:11])
    _complain(session, ids[10:11])  # the same complaint again (webhook replay): counted once
    _keep_sending(session, cid)  # not sent yet: not counted

    campaign = session.get(Campaign, cid)
    assert campaign is not None
    (email,) = deliverability.channel_health(session, campaign)

    assert (email.channel, email.sent, email.hard_bounced, email.complained) == ("email", 40, 3, 1)
    assert email.hard_bounce_rate == pytest.approx(3 / 40)
    assert email.complaint_rate == pytest.approx(1 / 40)


def test_sms_has_bounces_but_no_complaint_rate(session: Session) -> None:
    cid = _campaign(session, channel="both")
    _send(session, cid, 5)
    ids = _send(session, cid, 4, channel="sms")
    _bounce(session, ids[:1])

    campaign = session.get(Campaign, cid)
    assert campaign is not None
    health = {h.channel: h for h in deliverability.channel_health(session, campaign)}

    assert (health["sms"].sent, health["sms"].hard_bounced) == (4, 1)
    assert health["sms"].complaint_rate is None
    assert (health["email"].sent, health["email"].hard_bounced) == (5, 0)


def test_nothing_is_judged_before_the_minimum_sample(session: Session) -> None:
    cid = _campaign(session)
    ids = _send(session, cid, 199)
    _complain(session, ids[:5])  # 2.5%, far above 0.3%, but only 199 sent
    _bounce(session, ids[5:60])  # 28%

    assert deliverability.enforce(session, cid) is None
    assert _status(session, cid) == "sending"

    _send(session, cid, 1)  # the 200th
    assert deliverability.enforce(session, cid) is not None
    assert _status(session, cid) == "paused"


def test_complaints_above_the_limit_pause_with_the_reason_stored_and_audited(
    session: Session,
) -> None:
    cid = _campaign(session)
    ids = _send(session, cid, 500)
    _complain(session, ids[:2])  # 0.4% of 500

    verdict = deliverability.enforce(session, cid)

    assert verdict is not None and verdict.reason == PauseReason.COMPLAINTS
    session.expire_all()
    campaign = session.get(Campaign, cid)
    assert campaign is not None
    assert campaign.status == CampaignStatus.PAUSED
    assert (campaign.auto_pause_reason, campaign.auto_pause_channel) == ("complaints", "email")
    assert (campaign.auto_pause_count, campaign.auto_pause_sample) == (2, 500)
    assert campaign.auto_pause_limit_pct == 0.3
    assert deliverability.campaign_pause_message(campaign) == COMPLAINT_MESSAGE
    entry = session.execute(select(AuditEntry).order_by(AuditEntry.id.desc())).scalars().first()
    assert entry is not None
    assert (entry.actor, entry.action, entry.object_id) == ("system", "campaign.pause", str(cid))
    assert entry.summary == "automatic: 0.4% email spam complaints (2 of 500 sent; limit 0.3%)"
    assert sending.progress(session, cid).pause_message == COMPLAINT_MESSAGE  # type: ignore[union-attr]


def test_exactly_at_the_limit_is_not_above_it(session: Session) -> None:
    cid = _campaign(session)
    ids = _send(session, cid, 1000)
    _complain(session, ids[:3])  # 0.3% of 1,000: at the limit, not past it
    _bounce(session, ids[100:150])  # 5% of 1,000

    assert deliverability.enforce(session, cid) is None
    _bounce(session, ids[150:151])  # 5.1%
    verdict = deliverability.enforce(session, cid)
    assert verdict is not None and verdict.reason == PauseReason.HARD_BOUNCES
    assert verdict.message == (
        "Paused automatically: 5.1% of emails bounced hard (limit 5%). Check the list for old "
        "or mistyped addresses before resuming."
    )


def test_sms_numbers_that_do_not_exist_pause_on_their_own_channel(session: Session) -> None:
    cid = _campaign(session, channel="both")
    _send(session, cid, 300)  # email, clean
    ids = _send(session, cid, 200, channel="sms")
    _bounce(session, ids[:11])  # 5.5% of the SMS, 2.2% of all messages

    verdict = deliverability.enforce(session, cid)

    assert verdict is not None and (verdict.channel, verdict.count) == ("sms", 11)
    assert verdict.message.startswith(
        "Paused automatically: 5.5% of text messages went to numbers that do not exist"
    )


def test_a_shown_share_never_reads_as_the_limit_it_passed() -> None:
    assert deliverability.share_text(3, 999, 0.3) == "0.3003%"
    assert deliverability.share_text(2, 500, 0.3) == "0.4%"
    assert deliverability.share_text(0, 0) == "–"


def test_after_resume_the_same_numbers_do_not_pause_again_new_complaints_do(
    session: Session,
) -> None:
    cid = _campaign(session)
    ids = _send(session, cid, 500)
    _keep_sending(session, cid)
    _complain(session, ids[:2])
    assert deliverability.enforce(session, cid) is not None
    # Deliveries sent before the pause carry earlier times than the guard's window.
    session.execute(
        Delivery.__table__.update()
        .where(Delivery.campaign_id == cid)
        .values(sent_at=utcnow() - timedelta(seconds=5))
    )
    session.commit()

    assert sending.resume(session, cid)
    assert deliverability.enforce(session, cid) is None  # same numbers
    _complain(session, ids[2:4])  # late complaints about messages sent before the pause
    assert deliverability.enforce(session, cid) is None
    new = _send(session, cid, 200)
    assert deliverability.enforce(session, cid) is None  # 200 new, none complained
    _complain(session, new[:1])  # 1 of 200 new: 0.5%
    verdict = deliverability.enforce(session, cid)
    assert verdict is not None and (verdict.count, verdict.sample) == (1, 200)
    assert _status(session, cid) == "paused"


def test_a_pause_by_the_owner_shows_no_automatic_reason(session: Session) -> None:
    cid = _campaign(session)
    ids = _send(session, cid, 300)
    _keep_sending(session, cid)
    _complain(session, ids[:1])
    assert deliverability.enforce(session, cid) is not None
    assert sending.resume(session, cid)

    with audit.acting_as(audit.Actor(None, "owner")):
        assert sending.pause(session, cid)

    session.expire_all()
    campaign = session.get(Campaign, cid)
    assert campaign is not None and campaign.auto_pause_reason == ""
    assert deliverability.campaign_pause_message(campaign) == ""


@pytest.mark.parametrize("status", ["paused", "sent", "cancelled", "draft"])
def test_only_a_sending_campaign_is_paused(session: Session, status: str) -> None:
    cid = _campaign(session, status=status)
    ids = _send(session, cid, 300)
    _complain(session, ids[:30])

    assert deliverability.enforce(session, cid) is None
    assert _status(session, cid) == status


def test_the_periodic_tick_judges_every_sending_campaign(session: Session) -> None:
    over, fine = _campaign(session), _campaign(session)
    ids = _send(session, over, 250)
    _send(session, fine, 250)
    _bounce(session, ids[:20])  # 8%

    assert deliverability.enforce_sending(session) == [over]
    assert (_status(session, over), _status(session, fine)) == ("paused", "sending")


def test_limits_come_from_the_settings_page_and_the_environment_wins(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert deliverability_limits(session) == DeliverabilityLimits(0.3, 5.0, 200)
    update_deliverability_limits(session, {"hard_bounce_limit_pct": "3", "min_sample": "500"})
    assert deliverability_limits(session) == DeliverabilityLimits(0.3, 3.0, 500)

    monkeypatch.setenv("GUARD_MIN_SENT", "1000")
    reset_settings_cache()
    assert deliverability_limits(session).min_sample == 1000
    with pytest.raises(SettingsError) as info:
        update_deliverability_limits(session, {"min_sample": "50"})
    assert info.value.problems == [
        "Judge after messages sent: set by GUARD_MIN_SENT in the environment; change it there."
    ]
    # The same value (a form that shows it read-only) and other fields are fine.
    saved = update_deliverability_limits(
        session, {"min_sample": "1000", "complaint_limit_pct": "1"}
    )
    assert saved == DeliverabilityLimits(1.0, 3.0, 1000)


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        (
            {"complaint_limit_pct": "0"},
            "Pause above spam complaints %: expected a share of sent messages, more than 0, "
            "at most 100.",
        ),
        (
            {"hard_bounce_limit_pct": "101"},
            "Pause above hard bounces %: expected a share of sent messages, more than 0, "
            "at most 100.",
        ),
        (
            {"min_sample": "0"},
            "Judge after messages sent: expected a whole number from 1 to 1,000,000.",
        ),
        ({"min_sample": "2.5"}, "Judge after messages sent: expected a whole number, got “2.5”."),
    ],
)
def test_wrong_limits_name_the_field_and_nothing_is_saved(
    session: Session, form: dict[str, str], problem: str
) -> None:
    with pytest.raises(SettingsError) as info:
        update_deliverability_limits(session, form)

    assert info.value.problems == [problem]
    assert deliverability_limits(session) == DeliverabilityLimits()
