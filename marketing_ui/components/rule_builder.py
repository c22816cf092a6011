"""The segment rule builder: top-level match all/any, rules, one level of groups, NOT on each."""

from __future__ import annotations

import reflex as rx

from marketing_ui.components.choice_select import choice_select
from marketing_ui.components.tag_badges import tag_picker
from marketing_ui.components.theme import MUTED
from marketing_ui.state.segments import ANY, MONTHS, RULE_TYPES, RuleItem
from marketing_ui.state.segments import SegmentsState as S

INDENT = "16px"  # a rule inside a group; small enough for a phone


def _campaignchoice_select(item: rx.Var[RuleItem], allow_any: bool) -> rx.Component:
    return rx.cond(
        (S.campaigns.length() > 0) | allow_any,
        choice_select(
            rx.cond(item.campaign_id != "", item.campaign_id, ANY if allow_any else ""),
            lambda v: S.set_campaign(item.key, v),
            [(ANY, "any campaign")] if allow_any else [],
            rx.foreach(S.campaigns, lambda c: rx.select.item(c["name"], value=c["id"])),
            placeholder="Pick a campaign",
            class_name="rule-campaign",
        ),
        rx.text(
            "No campaigns yet: this rule matches nobody until one is sent.", size="2", color=MUTED
        ),
    )


def _number_input(value: rx.Var, on_change, class_name: str) -> rx.Component:  # noqa: ANN001
    return rx.input(
        value=value,
        on_change=on_change,
        type="number",
        min=1,
        width="90px",
        class_name=class_name,
    )


def _days_input(item: rx.Var[RuleItem]) -> rx.Component:
    return _number_input(item.days, lambda v: S.set_days(item.key, v), "rule-days")


def _visits_input(item: rx.Var[RuleItem]) -> rx.Component:
    return _number_input(item.visits, lambda v: S.set_visits(item.key, v), "rule-visits")


def _rule_inputs(item: rx.Var[RuleItem]) -> rx.Component:
    key = item.key
    return rx.match(
        item.type,
        (
            "tags",
            rx.flex(
                choice_select(
                    item.tag_mode,
                    lambda v: S.set_tag_mode(key, v),
                    [("any", "has any of"), ("all", "has all of"), ("none", "has none of")],
                    class_name="rule-tag-mode",
                ),
                tag_picker(S.all_tags, item.tag_ids, lambda t: S.toggle_tag(key, t), "rule-tag"),
                gap="8px",
                align="center",
                wrap="wrap",
            ),
        ),
        (
            "consent",
            rx.hstack(
                choice_select(
                    item.channel,
                    lambda v: S.set_channel(key, v),
                    [("email", "Email"), ("sms", "SMS")],
                    class_name="rule-channel",
                ),
                choice_select(
                    item.consent,
                    lambda v: S.set_consent(key, v),
                    [("yes", "is subscribed"), ("no", "is not subscribed")],
                    class_name="rule-consent",
                ),
            ),
        ),
        (
            "created",
            rx.hstack(
                choice_select(
                    item.created_op,
                    lambda v: S.set_created_op(key, v),
                    [("last_days", "in the last"), ("before", "before"), ("after", "on or after")],
                ),
                rx.cond(
                    item.created_op == "last_days",
                    rx.hstack(
                        rx.input(
                            value=item.days,
                            on_change=lambda v: S.set_days(key, v),
                            type="number",
                            min=1,
                            width="90px",
                            class_name="rule-days",
                        ),
                        rx.text("days", size="2"),
                        align="center",
                    ),
                    rx.input(
                        value=item.date,
                        on_change=lambda v: S.set_date(key, v),
                        type="date",
                        width="170px",
                        class_name="rule-date",
                    ),
                ),
                align="center",
            ),
        ),
        ("received_campaign", _campaignchoice_select(item, False)),
        ("opened_campaign", _campaignchoice_select(item, False)),
        ("clicked_campaign", _campaignchoice_select(item, False)),
        ("redeemed", _campaignchoice_select(item, True)),
        (
            "inactive_days",
            rx.hstack(
                rx.input(
                    value=item.days,
                    on_change=lambda v: S.set_days(key, v),
                    type="number",
                    min=1,
                    width="90px",
                    class_name="rule-days",
                ),
                rx.text("days (no open, click or redemption)", size="2"),
                align="center",
            ),
        ),
        (
            "no_visit_days",
            rx.hstack(
                _days_input(item),
                rx.text("days (came in before; see Never visited)", size="2"),
                align="center",
            ),
        ),
        ("never_visited", rx.text("no redemption or check-in yet", size="2", color=MUTED)),
        (
            "visits_in_days",
            rx.hstack(
                rx.text("at least", size="2"),
                _visits_input(item),
                rx.text("visits in the last", size="2"),
                _days_input(item),
                rx.text("days", size="2"),
                align="center",
                wrap="wrap",
            ),
        ),
        (
            "visit_count",
            rx.hstack(
                rx.text("at least", size="2"),
                _visits_input(item),
                rx.text("visits", size="2"),
                align="center",
            ),
        ),
        (
            "birthday_month",
            choice_select(
                item.month,
                lambda v: S.set_month(item.key, v),
                MONTHS,
                class_name="rule-month",
            ),
        ),
        rx.fragment(),
    )


def _not_toggle(item: rx.Var[RuleItem]) -> rx.Component:
    return rx.button(
        "NOT",
        size="1",
        variant=rx.cond(item.negate, "solid", "outline"),
        color_scheme=rx.cond(item.negate, "crimson", "gray"),
        on_click=S.toggle_negate(item.key),
        title="Match customers for whom this is NOT true",
        class_name="rule-not",
    )


def _remove(item: rx.Var[RuleItem]) -> rx.Component:
    return rx.icon_button(
        rx.icon("x", size=14),
        size="1",
        variant="ghost",
        color_scheme="gray",
        on_click=S.remove_item(item.key),
        class_name="rule-remove",
    )


def _group_header(item: rx.Var[RuleItem]) -> rx.Component:
    """NOT, "match all/any of these rules", then its buttons: they wrap under it on a phone."""
    return rx.flex(
        rx.hstack(
            _not_toggle(item),
            rx.text("Group: match", size="2", weight="medium"),
            choice_select(
                item.group_op,
                lambda v: S.set_group_op(item.key, v),
                [("and", "all"), ("or", "any")],
            ),
            rx.text("of these rules", size="2", weight="medium"),
            align="center",
            wrap="wrap",
        ),
        rx.hstack(
            rx.button(
                rx.icon("plus", size=12),
                "Rule in group",
                size="1",
                variant="soft",
                on_click=S.add_rule(item.key),
                class_name="group-add-rule",
            ),
            _remove(item),
            align="center",
            margin_left="auto",
        ),
        align="center",
        gap="8px",
        wrap="wrap",
        width="100%",
        class_name="group-header",
    )


def _leaf(item: rx.Var[RuleItem]) -> rx.Component:
    """NOT, the rule type, its inputs and the remove button; the inputs wrap on a phone."""
    return rx.vstack(
        rx.flex(
            _not_toggle(item),
            choice_select(
                item.type,
                lambda v: S.set_type(item.key, v),
                RULE_TYPES,
                class_name="rule-type",
            ),
            rx.box(_rule_inputs(item), flex="1 1 200px", min_width="0"),
            rx.box(_remove(item), margin_left="auto"),
            align="center",
            gap="8px",
            wrap="wrap",
            width="100%",
        ),
        rx.cond(
            item.problem != "",
            rx.text(item.problem, size="1", color=rx.color("red", 11), class_name="rule-problem"),
        ),
        spacing="1",
        width="100%",
    )


def _item(item: rx.Var[RuleItem]) -> rx.Component:
    nested = item.parent != ""
    return rx.box(
        rx.cond(item.is_group, _group_header(item), _leaf(item)),
        rx.cond(
            item.is_group & (item.problem != ""),
            rx.text(item.problem, size="1", color=rx.color("red", 11)),
        ),
        padding="10px 12px",
        margin_left=rx.cond(nested, INDENT, "0"),
        border_left=rx.cond(nested, f"3px solid {rx.color('accent', 6)}", "none"),
        border_radius="8px",
        background=rx.cond(item.is_group, rx.color("accent", 2), rx.color("gray", 2)),
        width=rx.cond(nested, f"calc(100% - {INDENT})", "100%"),
        class_name=rx.cond(item.is_group, "rule-group", "rule-item"),
        data_key=item.key,
    )


def rule_builder() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text("Customers matching", size="2", weight="medium"),
            choice_select(S.root_op, S.set_root_op, [("and", "all"), ("or", "any")], id="root-op"),
            rx.text("of these rules", size="2", weight="medium"),
            align="center",
            wrap="wrap",
        ),
        rx.cond(
            S.items.length() > 0,
            rx.vstack(rx.foreach(S.items, _item), spacing="2", width="100%"),
            rx.text(
                "No rules yet: the segment is every customer. Add a rule to narrow it.",
                size="2",
                color=MUTED,
            ),
        ),
        rx.hstack(
            rx.button(
                rx.icon("plus", size=14),
                "Add rule",
                variant="soft",
                on_click=S.add_rule(""),
                id="add-rule",
            ),
            rx.button(
                rx.icon("layers", size=14),
                "Add group",
                variant="soft",
                color_scheme="gray",
                on_click=S.add_group,
                id="add-group",
            ),
        ),
        spacing="3",
        width="100%",
        id="rule-builder",
    )
