"""The segment builder's flat rule list round-trips to the JSON the core validates and counts."""

from __future__ import annotations

import pytest

from marketing_ui.core.segments import validate_rules
from marketing_ui.state.segments import RuleItem, items_from_rules, rules_from_items


def test_flat_items_become_nested_rules_in_screen_order() -> None:
    items = [
        RuleItem(key="a", type="tags", tag_mode="all", tag_ids=["3", "1"]),
        RuleItem(key="g", is_group=True, group_op="or", negate=True),
        RuleItem(key="b", parent="g", type="consent", channel="sms", consent="yes"),
        RuleItem(key="c", parent="g", type="inactive_days", days="90"),
        RuleItem(key="d", type="redeemed", campaign_id=""),
    ]
    rules, checked = rules_from_items("and", items)
    assert rules == {
        "op": "and",
        "rules": [
            {"type": "tags", "mode": "all", "tags": [3, 1]},
            {
                "op": "not",
                "rule": {
                    "op": "or",
                    "rules": [
                        {"type": "consent", "channel": "sms", "value": True},
                        {"type": "inactive_days", "value": 90},
                    ],
                },
            },
            {"type": "redeemed", "campaign_id": None},
        ],
    }
    validate_rules(rules)
    assert [i.problem for i in checked] == [""] * 5


def test_unfinished_rules_are_marked_and_left_out_of_the_count() -> None:
    items = [
        RuleItem(key="a", type="tags"),
        RuleItem(key="b", type="created", created_op="before", date=""),
        RuleItem(key="c", type="opened_campaign"),
        RuleItem(key="d", type="created", days="0"),
        RuleItem(key="g", is_group=True),
        RuleItem(key="e", type="consent", negate=True),
    ]
    rules, checked = rules_from_items("or", items)
    assert rules == {
        "op": "or",
        "rules": [{"op": "not", "rule": {"type": "consent", "channel": "email", "value": True}}],
    }
    problems = {i.key: i.problem for i in checked}
    assert problems["a"] == "pick at least one tag"
    assert problems["b"] == "pick a date"
    assert problems["c"] == "pick a campaign"
    assert problems["d"].startswith("give a number of days")
    assert problems["g"] == "add a rule to this group"
    assert problems["e"] == ""


def test_saved_rules_reopen_in_the_builder_unchanged() -> None:
    saved = {
        "op": "or",
        "rules": [
            {"type": "created", "op": "after", "value": "2026-01-31"},
            {
                "op": "and",
                "rules": [{"op": "not", "rule": {"type": "clicked_campaign", "campaign_id": 7}}],
            },
            {"op": "not", "rule": {"type": "tags", "mode": "none", "tags": [2]}},
        ],
    }
    root_op, items = items_from_rules(saved)
    assert root_op == "or"
    assert rules_from_items(root_op, items)[0] == saved


def test_a_lone_rule_and_too_deep_nesting() -> None:
    root_op, items = items_from_rules({"type": "consent", "channel": "email", "value": False})
    assert root_op == "and" and len(items) == 1 and items[0].consent == "no"
    deep = {"op": "and", "rules": [{"op": "or", "rules": [{"op": "and", "rules": []}]}]}
    with pytest.raises(ValueError, match="deeper"):
        items_from_rules(deep)


def test_visit_and_birthday_rules_round_trip_and_explain_bad_numbers() -> None:
    saved = {
        "op": "and",
        "rules": [
            {"type": "no_visit_days", "value": 60},
            {"op": "not", "rule": {"type": "never_visited"}},
            {"type": "visits_in_days", "count": 3, "days": 30},
            {"type": "visit_count", "value": 5},
            {"type": "birthday_month", "value": 4},
        ],
    }
    root_op, items = items_from_rules(saved)
    rules, checked = rules_from_items(root_op, items)
    assert rules == saved
    assert [i.problem for i in checked] == [""] * 5
    bad = [
        RuleItem(key="a", type="no_visit_days", days="0"),
        RuleItem(key="b", type="visits_in_days", visits="0", days="30"),
        RuleItem(key="c", type="visits_in_days", visits="2", days="x"),
        RuleItem(key="d", type="visit_count", visits="100000"),
        RuleItem(key="e", type="birthday_month", month="13"),
    ]
    rules, checked = rules_from_items("and", bad)
    assert rules == {"op": "and", "rules": []}
    problems = {i.key: i.problem for i in checked}
    assert problems["a"].startswith("give a number of days")
    assert problems["b"].startswith("give a number of visits")
    assert problems["c"].startswith("give a number of days")
    assert problems["d"] == "give a number of visits (1 to 10000)"
    assert problems["e"] == "choose a month"
