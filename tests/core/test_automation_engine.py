"""The automation engine on SQLite and PostgreSQL: who each trigger picks, and a controlled clock
driving it for a year (twice per tick, and with crashes between its steps) to prove that each
occurrence is sent exactly once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from marketing_ui.core.app_settings import BusinessIdentity, save_business_identity
from marketing_ui.core.automations import engine as automations
from marketing_ui.core.clock import as_utc
from marketing_ui.core.models import (
    Automation,
    AutomationKind,
    AutomationOccurrence,
    Campaign,
    ConsentEvent,
    Customer,
    Delivery,
    Event,
    Visit,
)
from tests.workers.sending_harness import make_campaign, send_settings

ZONE = "America/New_York"
LOCAL = ZoneInfo(ZONE)
START = datetime(2027, 1, 1, 12, tzinfo=LOCAL).astimezone(UTC)  # noon, business time


@pytest.fixture
def env(engine: Engine, redis_client: object) -> Iterator[Session]:
    with send_settings(engine, None, None), Session(engine, expire_on_commit=False) as session:
        save_business_identity(session, BusinessIdentity(timezone=ZONE))
        session.commit()
        yield session


def customer(session: Session, name: str, **fields: object) -> int:
    row = Customer(
        **({"first_name": name, "email_bidx": f"bidx-{name}", "email_consent": True} | fields)
    )  # a reachable address needs only its blind index here; nothing is rendered
    session.add(row)
    session.commit()
    assert row.id is not None
    return row.id


def automation(session: Session, kind: AutomationKind, **fields: object) -> Automation:
    template = make_campaign(session)
    row = Automation(
        kind=kind.value,
        enabled=True,
        enabled_at=START - timedelta(days=1),
        template_campaign_id=template,
        **fields,
    )
    session.add(row)
    session.commit()
    session.execute(update(Campaign).where(Campaign.id == template).values(automation_id=row.id))
    session.commit()
    return row


def occurrences(session: Session, automation_id: int) -> list[tuple[int, str, datetime]]:
    return [
        (c, o, at.replace(tzinfo=UTC) if at.tzinfo is None else at)
        for c, o, at in session.execute(
            select(
                AutomationOccurrence.customer_id,
                AutomationOccurrence.occurrence,
                AutomationOccurrence.created_at,
            )
            .where(AutomationOccurrence.automation_id == automation_id)
            .order_by(AutomationOccurrence.id)
        ).all()
    ]


def messages_per_customer(session: Session, automation_id: int) -> Counter[int]:
    """Deliveries frozen in this automation's batches, per customer."""
    rows = session.execute(
        select(Delivery.customer_id)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .join(Automation, Automation.id == Campaign.automation_id)
        .where(Automation.id == automation_id, Campaign.id != Automation.template_campaign_id)
    ).scalars()
    return Counter(rows)


def assert_each_occurrence_sent_once(session: Session, automation_id: int) -> None:
    found = occurrences(session, automation_id)
    assert Counter(c for c, _, _ in found) == messages_per_customer(session, automation_id)
    unattached = session.execute(
        select(func.count()).where(
            AutomationOccurrence.automation_id == automation_id,
            AutomationOccurrence.campaign_id.is_(None),
        )
    ).scalar_one()
    assert unattached == 0
    drafts = session.execute(
        select(func.count()).where(
            Campaign.automation_id == automation_id,
            Campaign.status == "draft",
            Campaign.id.in_(select(AutomationOccurrence.campaign_id)),
        )
    ).scalar_one()
    assert drafts == 0


def crash_after_insert(session: Session, now: datetime) -> None:
    """A run that dies between recording occurrences and making their batch."""
    automations.run(session, now, send=False)


def crash_after_attach(session: Session, now: datetime) -> None:
    """A run that dies after attaching occurrences to a batch, before starting it."""
    zone, now = ZoneInfo(ZONE), as_utc(now)  # as `run` does: stored times are UTC
    for row in session.execute(select(Automation).where(Automation.enabled)).scalars().all():
        automations._record_due(session, row, now, zone)
        automations._attach_pending(session, row, now, zone)


# Who each trigger picks -----------------------------------------------------------------------


def test_welcome_only_for_consent_granted_after_switching_on_and_not_by_import(
    env: Session,
) -> None:
    welcome = automation(env, AutomationKind.WELCOME, delay_hours=2)
    fresh, imported, old, later = (customer(env, n) for n in ("fresh", "imp", "old", "later"))
    env.add_all(
        [
            ConsentEvent(customer_id=fresh, channel="email", granted=True, source="manual",
                         created_at=START - timedelta(hours=3)),
            ConsentEvent(customer_id=imported, channel="email", granted=True, source="import",
                         created_at=START - timedelta(hours=3)),
            ConsentEvent(customer_id=old, channel="email", granted=True, source="manual",
                         created_at=START - timedelta(days=5)),
            ConsentEvent(customer_id=later, channel="email", granted=True, source="manual",
                         created_at=START - timedelta(hours=1)),
        ]
    )  # fmt: skip
    env.commit()

    assert automations.run_due(env, START) == {"welcome": 1}
    assert [c for c, _, _ in occurrences(env, welcome.id)] == [fresh]
    assert automations.run_due(env, START + timedelta(hours=1)) == {"welcome": 1}
    assert messages_per_customer(env, welcome.id) == {fresh: 1, later: 1}


def test_birthday_days_before_in_the_business_zone_and_29_february(env: Session) -> None:
    birthday = automation(env, AutomationKind.BIRTHDAY, days_before=2)
    march = customer(env, "march", birthday_month=3, birthday_day=2)
    leap = customer(env, "leap", birthday_month=2, birthday_day=29)
    customer(env, "other", birthday_month=3, birthday_day=5)
    customer(env, "none")
    # 26 February 2027, 23:30 in New York (already the 27th in UTC): 28 Feb is two days away.
    now = datetime(2027, 2, 26, 23, 30, tzinfo=LOCAL)

    assert automations.run_due(env, now) == {"birthday": 1}
    assert occurrences(env, birthday.id)[0][:2] == (leap, "2027")
    assert automations.run_due(env, now + timedelta(days=2)) == {"birthday": 1}
    assert [o[:2] for o in occurrences(env, birthday.id)] == [(leap, "2027"), (march, "2027")]
    # In a leap year 29 February is its own day.
    assert automations.run_due(env, datetime(2028, 2, 27, 12, tzinfo=LOCAL)) == {"birthday": 1}
    assert occurrences(env, birthday.id)[-1][:2] == (leap, "2028")


def test_winback_for_lapsed_customers_only(env: Session) -> None:
    winback = automation(env, AutomationKind.WINBACK, inactive_days=30, period_days=90)
    lapsed = customer(env, "lapsed", last_visit_at=START - timedelta(days=31))
    customer(env, "regular", last_visit_at=START - timedelta(days=3))
    customer(env, "never")
    customer(env, "no-consent", last_visit_at=START - timedelta(days=60), email_consent=False)

    assert automations.run_due(env, START) == {"winback": 1}
    assert [c for c, _, _ in occurrences(env, winback.id)] == [lapsed]


def test_thank_you_after_the_delay_and_not_for_old_visits(env: Session) -> None:
    thanks = automation(env, AutomationKind.THANK_YOU, delay_hours=3, period_days=0)
    recent, ancient, too_soon = (customer(env, n) for n in ("recent", "ancient", "soon"))
    env.add_all(
        [
            Visit(customer_id=recent, at=START - timedelta(hours=4), source="check_in"),
            Visit(customer_id=ancient, at=START - timedelta(days=5), source="check_in"),
            Visit(customer_id=too_soon, at=START - timedelta(hours=1), source="check_in"),
        ]
    )
    env.commit()

    assert automations.run_due(env, START) == {"thank_you": 1}
    assert [c for c, _, _ in occurrences(env, thanks.id)] == [recent]


def test_second_chance_only_to_those_who_neither_opened_nor_clicked(env: Session) -> None:
    second = automation(env, AutomationKind.SECOND_CHANCE)
    opened, clicked, silent, failed = (customer(env, n) for n in ("o", "c", "s", "f"))
    sent_at = START - timedelta(hours=30)
    original = make_campaign(
        env,
        status="sent",
        sent_at=sent_at,
        track_opens_clicks=True,
        second_chance_hours=24,
        second_chance_subject="Did you miss it?",
    )
    env.execute(update(Campaign).where(Campaign.id == original).values(name="Friday jazz"))
    for who, status in ((opened, "delivered"), (clicked, "sent"), (silent, "delivered"),
                        (failed, "failed")):  # fmt: skip
        delivery = Delivery(
            campaign_id=original, customer_id=who, channel="email", status=status, sent_at=sent_at
        )
        env.add(delivery)
        env.flush()
        if who in (opened, clicked):
            kind = "opened" if who == opened else "clicked"
            env.add(
                Event(campaign_id=original, delivery_id=delivery.id, customer_id=who, type=kind)
            )
    env.commit()

    assert automations.run_due(env, START - timedelta(hours=7)) == {"second_chance": 0}
    assert automations.run_due(env, START) == {"second_chance": 1}
    assert automations.run_due(env, START + timedelta(hours=1)) == {"second_chance": 0}
    assert messages_per_customer(env, second.id) == {silent: 1}
    batch = env.execute(
        select(Campaign).where(
            Campaign.automation_id == second.id, Campaign.id != second.template_campaign_id
        )
    ).scalar_one()
    assert batch.subject == "Did you miss it?"
    assert batch.name == "Second chance · Friday jazz"


def test_a_disabled_automation_fires_nothing(env: Session) -> None:
    winback = automation(env, AutomationKind.WINBACK, inactive_days=1, period_days=30)
    winback.enabled = False
    env.add(winback)
    env.commit()
    customer(env, "lapsed", last_visit_at=START - timedelta(days=31))

    assert automations.run_due(env, START) == {}
    assert occurrences(env, winback.id) == []


def test_a_template_without_a_message_is_skipped_with_the_reason(env: Session) -> None:
    winback = automation(env, AutomationKind.WINBACK, inactive_days=1, period_days=30)
    env.execute(
        update(Campaign).where(Campaign.id == winback.template_campaign_id).values(mjml_body="")
    )
    env.commit()
    customer(env, "lapsed", last_visit_at=START - timedelta(days=31))

    report = automations.run(env, START)

    assert report.fired == {}
    assert report.skipped == {"winback": "its email has no subject or no content."}
    assert occurrences(env, winback.id) == []


def test_switching_off_cancels_the_batches_not_yet_sent(env: Session) -> None:
    winback = automation(env, AutomationKind.WINBACK, inactive_days=1, period_days=30)
    customer(env, "lapsed", last_visit_at=START - timedelta(days=31))
    report = automations.run(env, START)
    assert len(report.batches) == 1

    assert automations.stop(env, winback.id) == 1
    env.expire_all()
    batch = env.get(Campaign, report.batches[0])
    assert batch is not None and batch.status == "cancelled"
    assert set(
        env.execute(select(Delivery.status).where(Delivery.campaign_id == batch.id)).scalars()
    ) == {"cancelled"}


# A year on a controlled clock ------------------------------------------------------------------


def test_a_year_day_by_day_fires_each_occurrence_exactly_once(env: Session) -> None:
    """Every day ticks twice, and two days in three a run dies part-way (after inserting the
    occurrences, or after attaching them to a batch) before the next one picks up."""
    welcome = automation(env, AutomationKind.WELCOME, delay_hours=24)
    birthday = automation(env, AutomationKind.BIRTHDAY, days_before=3)
    winback = automation(env, AutomationKind.WINBACK, inactive_days=30, period_days=60)
    march = customer(env, "march", birthday_month=3, birthday_day=15)
    leap = customer(env, "leap", birthday_month=2, birthday_day=29)
    new_year = customer(env, "newyear", birthday_month=1, birthday_day=2)
    lapsed = customer(env, "lapsed", last_visit_at=START - timedelta(days=10))
    regular = customer(env, "regular", last_visit_at=START)
    joiner = customer(env, "joiner")

    days = 365
    for day in range(days):
        now = START + timedelta(days=day)
        if day % 7 == 0:
            env.execute(update(Customer).where(Customer.id == regular).values(last_visit_at=now))
        if day in (40, 41, 200):  # consent granted, then granted again: still one welcome
            env.add(ConsentEvent(customer_id=joiner, channel="email", granted=True,
                                 source="manual", created_at=now))  # fmt: skip
        env.commit()
        if day % 3 == 0:
            crash_after_insert(env, now)
        elif day % 3 == 1:
            crash_after_attach(env, now)
        automations.run_due(env, now)
        automations.run_due(env, now)  # a double tick

    for row in (welcome, birthday, winback):
        assert_each_occurrence_sent_once(env, row.id)
    assert [c for c, _, _ in occurrences(env, welcome.id)] == [joiner]
    assert sorted(o[:2] for o in occurrences(env, birthday.id)) == sorted(
        [(new_year, "2027"), (leap, "2027"), (march, "2027"), (new_year, "2028")]
    )  # 2 January 2028 is three days before the end of the simulated year
    lapses = [at for c, _, at in occurrences(env, winback.id) if c == lapsed]
    assert all(c == lapsed for c, _, _ in occurrences(env, winback.id))
    assert len(lapses) == 6  # day 20, then every 60 days: 80, 140, 200, 260, 320
    assert all(b - a >= timedelta(days=60) for a, b in zip(lapses, lapses[1:], strict=False))


def test_thank_you_hour_by_hour_once_per_visit_within_the_period(env: Session) -> None:
    """Two ticks an hour for two weeks, runs dying part-way as in the year above."""
    thanks = automation(env, AutomationKind.THANK_YOU, delay_hours=2, period_days=7)
    often, once = customer(env, "often"), customer(env, "once")
    visits = {
        (often, 10),  # thanked at hour 12
        (often, 30),  # within 7 days of the first thank-you: none
        (often, 24 * 9),  # thanked
        (once, 24 * 3 + 5),  # thanked
    }
    for who, hour in visits:
        env.add(Visit(customer_id=who, at=START + timedelta(hours=hour), source="check_in"))
    env.commit()

    for hour in range(24 * 14):
        now = START + timedelta(hours=hour)
        if hour % 3 == 0:
            crash_after_insert(env, now)
        elif hour % 3 == 1:
            crash_after_attach(env, now)
        automations.run_due(env, now)
        automations.run_due(env, now)

    assert_each_occurrence_sent_once(env, thanks.id)
    fired = occurrences(env, thanks.id)
    assert Counter(c for c, _, _ in fired) == {often: 2, once: 1}
    assert len({o for _, o, _ in fired}) == 3


@pytest.mark.parametrize(("valid_days", "coupons"), [(0, False), (14, True)])
def test_a_batch_carries_coupons_only_when_the_offer_has_a_validity(
    env: Session, valid_days: int, coupons: bool
) -> None:
    """The settings page promises "0 sends no coupon"; otherwise they expire N days after."""
    row = automation(env, AutomationKind.BIRTHDAY, days_before=0, offer_valid_days=valid_days)
    env.execute(
        update(Campaign).where(Campaign.id == row.template_campaign_id).values(has_qr_code=True)
    )
    env.commit()
    customer(env, "today", birthday_month=3, birthday_day=2)
    now = datetime(2027, 3, 2, 12, tzinfo=LOCAL)

    crash_after_attach(env, now)  # the batch is made, not started: its fields are what we check

    batch = env.execute(
        select(Campaign).where(
            Campaign.automation_id == row.id, Campaign.id != row.template_campaign_id
        )
    ).scalar_one()
    assert batch.has_qr_code is coupons
    expires = batch.offer_expires_at and as_utc(batch.offer_expires_at)
    assert expires == (as_utc(now) + timedelta(days=valid_days) if coupons else None)


# What a tick reads -----------------------------------------------------------------------------


def _full_scan_new(session: Session, row: Automation, now: datetime) -> set[tuple[int, str]]:
    """What reading every customer would record now: the due set less what is recorded."""
    due: set[tuple[int, str]] = set()
    for query in automations.due_select(session, row, now):
        due |= {(c, o) for c, o in session.execute(query).all()}
    return due - {(c, o) for c, o, _ in occurrences(session, row.id)}


def test_a_tick_reading_only_what_changed_records_what_reading_everyone_would(
    env: Session,
) -> None:
    """150 days of random visits and consent changes, a tick every 8 hours (some skipped, as
    when workers are down): before each tick the full scan says what is due, and the tick, which
    reads only what changed since the previous run, records exactly that for win-back.

    Welcome differs on purpose in one case: a customer who withdrew consent before their welcome
    was due and gave it again is welcomed `delay_hours` after the new grant, where the full scan
    would welcome them at once on the strength of the old one. So its ticks record a subset."""
    import random

    rnd = random.Random(1415)
    welcome = automation(env, AutomationKind.WELCOME, delay_hours=24)
    winback = automation(env, AutomationKind.WINBACK, inactive_days=20, period_days=30)
    people = [
        customer(env, f"p{i}", email_consent=rnd.random() < 0.7,
                 last_visit_at=START - timedelta(days=rnd.randrange(0, 60)))
        for i in range(40)
    ]  # fmt: skip
    recorded = 0
    for tick in range(150 * 3):
        now = START + timedelta(hours=8 * tick)
        for who in rnd.sample(people, 2):
            if rnd.random() < 0.5:
                env.execute(update(Customer).where(Customer.id == who).values(last_visit_at=now))
            else:
                granted = rnd.random() < 0.6
                env.execute(
                    update(Customer).where(Customer.id == who).values(email_consent=granted)
                )
                env.add(ConsentEvent(customer_id=who, channel="email", granted=granted,
                                     source="manual", created_at=now))  # fmt: skip
        env.commit()
        if rnd.random() < 0.2:
            continue  # nobody ran this tick
        expected = {row.id: _full_scan_new(env, row, now) for row in (welcome, winback)}
        before = {row.id: set(occurrences(env, row.id)) for row in (welcome, winback)}
        automations.run(env, now, send=False)
        for row in (welcome, winback):
            new = {(c, o) for c, o, _ in set(occurrences(env, row.id)) - before[row.id]}
            if row is winback:
                assert new == expected[row.id], tick
            else:
                assert new <= expected[row.id], tick
            recorded += len(new)
    assert recorded > 60  # the simulation did exercise both triggers


def test_changing_the_inactivity_reads_everyone_again(env: Session) -> None:
    """Lowering 60 days to 30 makes customers due whose crossing lies before the last run."""
    from marketing_ui.core.automations import config

    winback = automation(env, AutomationKind.WINBACK, inactive_days=60, period_days=90)
    lapsed = customer(env, "lapsed", last_visit_at=START - timedelta(days=45))
    assert automations.run_due(env, START) == {"winback": 0}
    assert automations.run_due(env, START + timedelta(hours=1)) == {"winback": 0}

    config.update(env, "winback", {"inactive_days": "30"})

    assert automations.run_due(env, START + timedelta(hours=2)) == {"winback": 1}
    assert [c for c, _, _ in occurrences(env, winback.id)] == [lapsed]
