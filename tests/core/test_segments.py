"""The rule compiler against a small known data set on SQLite and PostgreSQL, and saved segments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from marketing_ui.core.customers import CustomerInput, create_customer
from marketing_ui.core.models import Campaign, Coupon, Customer, Delivery, Event, VisitSource
from marketing_ui.core.segments import (
    count_matching,
    create_segment,
    delete_segment,
    list_segments_with_counts,
    matching_ids_select,
    sample_matching,
    update_segment,
    validate_rules,
)
from marketing_ui.core.tags import create_tag
from marketing_ui.core.visits import record_visit

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def world(session: Session) -> dict[str, int]:
    """Four customers, two tags, two campaigns with deliveries, events and coupons."""
    a, b = create_tag(session, "A"), create_tag(session, "B")
    spec = {
        # name: (tags, email consent, sms consent, created, last activity)
        "c1": ([a.id, b.id], True, False, "2025-06-01", "2026-02-20"),
        "c2": ([a.id], False, True, "2025-12-15 10:00", None),
        "c3": ([b.id], True, True, "2026-02-20", None),
        "c4": ([], False, False, "2024-01-01", "2025-01-01"),
    }
    ids: dict[str, int] = {"A": a.id, "B": b.id}  # type: ignore[dict-item]
    for name, (tags, email_ok, sms_ok, created, active) in spec.items():
        c = create_customer(
            session,
            CustomerInput(name, "X", f"{name}@example.com", "", email_ok, False, tags),
        )
        c.sms_consent = sms_ok  # no phone needed to test the flag itself
        c.created_at = _at(created)
        c.last_activity_at = _at(active) if active else None
        ids[name] = c.id  # type: ignore[assignment]
    camp1, camp2 = Campaign(name="One"), Campaign(name="Two")
    session.add_all([camp1, camp2])
    session.flush()
    ids["camp1"], ids["camp2"] = camp1.id, camp2.id  # type: ignore[assignment]
    deliveries = {}
    for customer, campaign, status in (
        ("c1", camp1, "sent"),
        ("c2", camp1, "failed"),
        ("c3", camp1, "delivered"),
        ("c4", camp2, "sent"),
    ):
        d = Delivery(
            campaign_id=campaign.id, customer_id=ids[customer], channel="email", status=status
        )
        session.add(d)
        session.flush()
        deliveries[customer] = d
    session.add_all(
        [
            Event(campaign_id=camp1.id, customer_id=ids["c1"], type="opened"),
            Event(campaign_id=camp1.id, customer_id=ids["c3"], type="clicked"),
            Event(campaign_id=camp1.id, customer_id=None, type="opened"),  # NOT must survive NULLs
        ]
    )
    for customer, campaign, status in (("c4", camp2, "redeemed"), ("c1", camp1, "issued")):
        session.add(
            Coupon(
                campaign_id=campaign.id,
                delivery_id=deliveries[customer].id,
                customer_id=ids[customer],
                token_hash=f"t-{customer}",
                short_code_hash=f"s-{customer}",
                secret_enc="x",
                status=status,
            )
        )
    session.commit()
    return ids


def _names(session: Session, world: dict[str, int], rules: dict) -> list[str]:
    by_id = {v: k for k, v in world.items() if k.startswith("c") and not k.startswith("camp")}
    ids = session.execute(matching_ids_select(rules, NOW)).scalars().all()
    assert count_matching(session, rules, NOW) == len(ids)
    return sorted(by_id[i] for i in ids)


def test_each_rule_type(session: Session, world: dict[str, int]) -> None:
    A, B, camp1, camp2 = world["A"], world["B"], world["camp1"], world["camp2"]  # noqa: N806
    cases = [
        ({"type": "tags", "mode": "any", "tags": [A]}, ["c1", "c2"]),
        ({"type": "tags", "mode": "any", "tags": [A, B]}, ["c1", "c2", "c3"]),
        ({"type": "tags", "mode": "all", "tags": [A, B]}, ["c1"]),
        ({"type": "tags", "mode": "none", "tags": [A]}, ["c3", "c4"]),
        ({"type": "consent", "channel": "email", "value": True}, ["c1", "c3"]),
        ({"type": "consent", "channel": "sms", "value": False}, ["c1", "c4"]),
        ({"type": "created", "op": "before", "value": "2025-12-15"}, ["c1", "c4"]),
        ({"type": "created", "op": "after", "value": "2025-12-15"}, ["c2", "c3"]),
        ({"type": "created", "op": "last_days", "value": 30}, ["c3"]),
        ({"type": "received_campaign", "campaign_id": camp1}, ["c1", "c3"]),
        ({"type": "opened_campaign", "campaign_id": camp1}, ["c1"]),
        ({"type": "clicked_campaign", "campaign_id": camp1}, ["c3"]),
        ({"type": "opened_campaign", "campaign_id": camp2}, []),
        ({"type": "redeemed", "campaign_id": None}, ["c4"]),
        ({"type": "redeemed", "campaign_id": camp1}, []),
        ({"type": "redeemed", "campaign_id": camp2}, ["c4"]),
        ({"type": "inactive_days", "value": 60}, ["c2", "c4"]),
    ]
    for rule, expected in cases:
        assert _names(session, world, rule) == expected, rule


def test_visit_and_birthday_rules(session: Session, world: dict[str, int]) -> None:
    """c1 a regular, c2 lapsed (one visit 100 days ago), c3 and c4 never came in."""
    day = timedelta(days=1)
    for at in (NOW - 2 * day, NOW - 10 * day, NOW - 20 * day, NOW - 200 * day):
        record_visit(session, world["c1"], VisitSource.CHECK_IN, at=at)
    record_visit(session, world["c2"], VisitSource.CHECK_IN, at=NOW - 100 * day)
    for name, (month, day_of_month) in {"c1": (4, 2), "c2": (2, 29), "c3": (4, 30)}.items():
        customer = session.get(Customer, world[name])
        customer.birthday_month, customer.birthday_day = month, day_of_month
    session.commit()
    cases = [
        ({"type": "no_visit_days", "value": 60}, ["c2"]),
        ({"type": "no_visit_days", "value": 1}, ["c1", "c2"]),
        ({"type": "no_visit_days", "value": 365}, []),
        ({"type": "never_visited"}, ["c3", "c4"]),
        (
            {
                "op": "or",
                "rules": [{"type": "no_visit_days", "value": 60}, {"type": "never_visited"}],
            },
            ["c2", "c3", "c4"],
        ),
        ({"op": "not", "rule": {"type": "no_visit_days", "value": 60}}, ["c1", "c3", "c4"]),
        ({"type": "visits_in_days", "count": 3, "days": 30}, ["c1"]),
        ({"type": "visits_in_days", "count": 4, "days": 30}, []),
        ({"type": "visits_in_days", "count": 1, "days": 150}, ["c1", "c2"]),
        ({"type": "visit_count", "value": 1}, ["c1", "c2"]),
        ({"type": "visit_count", "value": 4}, ["c1"]),
        ({"type": "visit_count", "value": 5}, []),
        ({"type": "birthday_month", "value": 4}, ["c1", "c3"]),
        ({"type": "birthday_month", "value": 2}, ["c2"]),
        ({"op": "not", "rule": {"type": "birthday_month", "value": 4}}, ["c2", "c4"]),
    ]
    for rule, expected in cases:
        assert _names(session, world, rule) == expected, rule


def test_and_or_not_combinations(session: Session, world: dict[str, int]) -> None:
    A, B, camp1 = world["A"], world["B"], world["camp1"]  # noqa: N806
    no_a_or_received = {
        "op": "or",
        "rules": [
            {"type": "tags", "mode": "none", "tags": [A]},
            {"type": "received_campaign", "campaign_id": camp1},
        ],
    }
    cases = [
        ({"op": "and", "rules": []}, ["c1", "c2", "c3", "c4"]),
        ({"op": "or", "rules": []}, []),
        (
            {
                "op": "and",
                "rules": [
                    {"type": "tags", "mode": "any", "tags": [A]},
                    {"type": "consent", "channel": "email", "value": True},
                ],
            },
            ["c1"],
        ),
        (no_a_or_received, ["c1", "c3", "c4"]),
        ({"op": "not", "rule": no_a_or_received}, ["c2"]),
        (
            {"op": "not", "rule": {"type": "opened_campaign", "campaign_id": camp1}},
            ["c2", "c3", "c4"],
        ),
        (
            {
                "op": "and",
                "rules": [
                    {
                        "op": "or",
                        "rules": [
                            {"type": "consent", "channel": "sms", "value": True},
                            {"type": "redeemed", "campaign_id": None},
                        ],
                    },
                    {"op": "not", "rule": {"type": "tags", "mode": "any", "tags": [B]}},
                ],
            },
            ["c2", "c4"],
        ),
    ]
    for rules, expected in cases:
        assert _names(session, world, rules) == expected, rules


def test_sample_is_newest_first_and_decrypted(session: Session, world: dict[str, int]) -> None:
    rows = sample_matching(session, {"type": "consent", "channel": "email", "value": True}, limit=1)
    assert [(r.first_name, r.email) for r in rows] == [("c3", "c3@example.com")]


def test_the_compiled_rules_are_one_statement(session: Session, world: dict[str, int]) -> None:
    rules = {
        "op": "and",
        "rules": [
            {"type": "tags", "mode": "all", "tags": [world["A"], world["B"]]},
            {"type": "opened_campaign", "campaign_id": world["camp1"]},
        ],
    }
    sql = str(matching_ids_select(rules, NOW).compile(session.get_bind()))
    assert sql.count("SELECT") == 4 and "customer_tag" in sql and "event" in sql
    # And it can feed an INSERT ... SELECT directly, as the campaign send will.
    frozen = sa.select(sa.func.count()).select_from(matching_ids_select(rules, NOW).subquery())
    assert session.execute(frozen).scalar_one() == 1


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([], "must be an object"),
        ({"op": "xor", "rules": []}, "and / or / not"),
        ({"op": "and", "rules": "nope"}, "needs a list"),
        (
            {"op": "and", "rules": [{"type": "tags", "mode": "some", "tags": [1]}]},
            r"rules\[0\]\.mode",
        ),
        ({"type": "tags", "mode": "any", "tags": []}, "at least one tag"),
        ({"type": "tags", "mode": "any", "tags": [True]}, "at least one tag"),
        ({"type": "consent", "channel": "fax", "value": True}, "email or sms"),
        ({"type": "consent", "channel": "email", "value": "yes"}, "true or false"),
        ({"type": "created", "op": "before", "value": "yesterday"}, "not a date"),
        ({"type": "created", "op": "last_days", "value": 0}, "whole number of days"),
        ({"type": "received_campaign"}, "pick a campaign"),
        ({"type": "redeemed", "campaign_id": "3"}, "pick a campaign"),
        ({"type": "inactive_days", "value": 1.5}, "whole number"),
        ({"type": "no_visit_days", "value": 0}, r"rules\.value: give a whole number of days"),
        ({"type": "visits_in_days", "count": 0, "days": 30}, r"rules\.count: .* visits"),
        ({"type": "visits_in_days", "count": 2, "days": 40000}, r"rules\.days: .* days"),
        ({"type": "visits_in_days", "count": 2}, r"rules\.days"),
        ({"type": "visit_count", "value": -1}, r"rules\.value: .* visits between 1"),
        ({"type": "visit_count", "value": 10001}, "between 1 and 10000"),
        ({"type": "birthday_month", "value": 13}, r"rules\.value: choose a month"),
        ({"type": "birthday_month", "value": "4"}, "choose a month"),
        ({"type": "planet"}, "unknown rule type"),
        ({"op": "not", "rule": {"op": "not", "rule": None}}, r"rules\.rule\.rule: a rule must be"),
    ],
)
def test_validate_rules_explains_what_is_wrong(rules: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_rules(rules)


def test_validate_rules_limits_depth_and_size() -> None:
    deep: dict = {"type": "consent", "channel": "email", "value": True}
    for _ in range(10):
        deep = {"op": "not", "rule": deep}
    with pytest.raises(ValueError, match="nest at most"):
        validate_rules(deep)
    wide = {"op": "or", "rules": [{"type": "inactive_days", "value": 5}] * 150}
    with pytest.raises(ValueError, match="too many rules"):
        validate_rules(wide)


def test_saved_segments_crud_with_counts(session: Session, world: dict[str, int]) -> None:
    subscribed = create_segment(
        session, "Subscribed", {"type": "consent", "channel": "email", "value": True}
    )
    create_segment(session, "A tag", {"type": "tags", "mode": "any", "tags": [world["A"]]})
    with pytest.raises(ValueError, match="already exists"):
        create_segment(session, "subscribed", {"op": "and", "rules": []})
    with pytest.raises(ValueError, match="pick at least one tag"):
        create_segment(session, "Broken", {"type": "tags", "mode": "any", "tags": []})
    session.commit()
    assert [(s.name, s.customers) for s in list_segments_with_counts(session)] == [
        ("A tag", 2),
        ("Subscribed", 2),
    ]
    update_segment(session, subscribed.id, name="Everyone", rules={"op": "and", "rules": []})  # type: ignore[arg-type]
    session.commit()
    assert [(s.name, s.customers) for s in list_segments_with_counts(session)] == [
        ("A tag", 2),
        ("Everyone", 4),
    ]
    delete_segment(session, subscribed.id)  # type: ignore[arg-type]
    session.commit()
    assert [s.name for s in list_segments_with_counts(session)] == ["A tag"]
    assert session.execute(sa.select(sa.func.count()).select_from(Customer)).scalar_one() == 4


def test_pickers_list_plain_choices(session: Session) -> None:
    from marketing_ui.core import campaigns, segments, tags

    for name in ("b-tag", "a-tag"):
        create_tag(session, name)
    everyone = {"op": "and", "rules": []}
    for name in ("Zeta", "Alpha"):
        segments.create_segment(session, name, everyone)
    first = campaigns.create_campaign(session, "Older", "monday_special", "email")
    second = campaigns.create_campaign(session, "Newer", "monday_special", "email")
    session.commit()
    assert [n for _, n in tags.choices(session)] == ["a-tag", "b-tag"]
    assert [n for _, n in segments.choices(session)] == ["Alpha", "Zeta"]
    assert campaigns.choices(session) == [(second.id, "Newer"), (first.id, "Older")]
    assert len(segments.choices(session, limit=1)) == 1
