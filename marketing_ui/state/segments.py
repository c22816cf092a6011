"""Segments page: saved segments with live counts and a point-and-click rule builder.

The builder holds the rule tree as a flat list of items (a group's children follow it), which
is what rx.foreach renders well; `rules_from_items` turns it into the JSON that
marketing_ui.core.segments validates and compiles. The UI nests groups one level deep; the
core accepts more.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import reflex as rx

from marketing_ui.components.tag_badges import TagView
from marketing_ui.core import segments, tags
from marketing_ui.core.app_settings import business_identity
from marketing_ui.core.campaigns import choices as campaign_choices
from marketing_ui.core.customers import CustomerRow
from marketing_ui.core.db import session_scope
from marketing_ui.core.segments import MAX_DAYS, MAX_VISITS, Rules
from marketing_ui.core.time_display import format_datetime
from marketing_ui.state.auth import AuthState

DEBOUNCE_S = 0.3
SAMPLE_SIZE = 10
CAMPAIGNS_LISTED = 200
ANY = "any"
RULE_TYPES: list[tuple[str, str]] = [
    ("tags", "Tags"),
    ("consent", "Consent"),
    ("created", "Added"),
    ("received_campaign", "Received campaign"),
    ("opened_campaign", "Opened campaign"),
    ("clicked_campaign", "Clicked campaign"),
    ("redeemed", "Redeemed a coupon"),
    ("inactive_days", "No activity for"),
    ("no_visit_days", "No visit for"),
    ("never_visited", "Never visited"),
    ("visits_in_days", "Visits recently"),
    ("visit_count", "Visits in all"),
    ("birthday_month", "Birthday in"),
]
MONTHS: list[tuple[str, str]] = [
    (str(n), name)
    for n, name in enumerate(
        (
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ),
        start=1,
    )
]
_CAMPAIGN_TYPES = ("received_campaign", "opened_campaign", "clicked_campaign")


@dataclass
class RuleItem:
    """One row of the builder: a group header or a rule (with every rule type's inputs)."""

    key: str = ""
    parent: str = ""  # "" for the top level, else the key of the group holding it
    is_group: bool = False
    group_op: str = "and"
    negate: bool = False
    type: str = "tags"
    tag_mode: str = "any"
    tag_ids: list[str] = field(default_factory=list)
    channel: str = "email"
    consent: str = "yes"
    created_op: str = "last_days"
    date: str = ""
    days: str = "30"
    campaign_id: str = ""
    visits: str = "2"  # K in the visit rules
    month: str = "1"  # the birthday month, 1-12
    problem: str = ""  # why this rule is not counted yet ("pick a tag")


@dataclass
class SegmentView:
    id: str = ""
    name: str = ""
    customers: int = 0
    rules: int = 0
    updated: str = ""


def _new_key() -> str:
    return uuid.uuid4().hex[:10]


def _days(value: str) -> int | None:
    value = value.strip()
    if not value.isdigit() or not 0 < int(value) <= MAX_DAYS:
        return None
    return int(value)


def _visits(value: str) -> int | None:
    value = value.strip()
    if not value.isdigit() or not 0 < int(value) <= MAX_VISITS:
        return None
    return int(value)


def leaf_rule(item: RuleItem) -> tuple[Rules | None, str]:
    """The JSON of one rule, or None and what is missing."""
    kind = item.type
    rule: Rules
    if kind == "tags":
        ids = [int(t) for t in item.tag_ids if t.isdigit()]
        if not ids:
            return None, "pick at least one tag"
        rule = {"type": "tags", "mode": item.tag_mode, "tags": ids}
    elif kind == "consent":
        rule = {"type": "consent", "channel": item.channel, "value": item.consent == "yes"}
    elif kind == "created":
        if item.created_op == "last_days":
            days = _days(item.days)
            if days is None:
                return None, f"give a number of days (1 to {MAX_DAYS})"
            rule = {"type": "created", "op": "last_days", "value": days}
        else:
            if len(item.date) != 10:
                return None, "pick a date"
            rule = {"type": "created", "op": item.created_op, "value": item.date}
    elif kind in _CAMPAIGN_TYPES:
        if not item.campaign_id.isdigit():
            return None, "pick a campaign"
        rule = {"type": kind, "campaign_id": int(item.campaign_id)}
    elif kind == "redeemed":
        campaign = int(item.campaign_id) if item.campaign_id.isdigit() else None
        rule = {"type": "redeemed", "campaign_id": campaign}
    elif kind == "inactive_days":
        days = _days(item.days)
        if days is None:
            return None, f"give a number of days (1 to {MAX_DAYS})"
        rule = {"type": "inactive_days", "value": days}
    elif kind in ("no_visit_days", "visits_in_days"):
        days = _days(item.days)
        if days is None:
            return None, f"give a number of days (1 to {MAX_DAYS})"
        if kind == "no_visit_days":
            rule = {"type": kind, "value": days}
        else:
            count = _visits(item.visits)
            if count is None:
                return None, f"give a number of visits (1 to {MAX_VISITS})"
            rule = {"type": kind, "count": count, "days": days}
    elif kind == "never_visited":
        rule = {"type": kind}
    elif kind == "visit_count":
        count = _visits(item.visits)
        if count is None:
            return None, f"give a number of visits (1 to {MAX_VISITS})"
        rule = {"type": kind, "value": count}
    elif kind == "birthday_month":
        if not item.month.isdigit() or not 1 <= int(item.month) <= 12:
            return None, "choose a month"
        rule = {"type": kind, "value": int(item.month)}
    else:
        return None, "choose a rule type"
    try:
        segments.validate_rules(rule)
    except ValueError as exc:
        return None, str(exc).split(": ", 1)[-1]
    return rule, ""


def _negated(rule: Rules, negate: bool) -> Rules:
    return {"op": "not", "rule": rule} if negate else rule


def rules_from_items(root_op: str, items: list[RuleItem]) -> tuple[Rules, list[RuleItem]]:
    """The rule tree of the complete rules, and the items with their `problem` filled in.

    Incomplete rules and empty groups are left out, so the live count always reflects what
    is finished; saving refuses while any problem remains.
    """
    checked: list[RuleItem] = []
    leaf_json: dict[str, Rules] = {}
    for item in items:
        if item.is_group:
            checked.append(replace(item, problem=""))
            continue
        rule, problem = leaf_rule(item)
        checked.append(replace(item, problem=problem))
        if rule is not None:
            leaf_json[item.key] = _negated(rule, item.negate)
    top: list[Rules] = []
    for n, item in enumerate(checked):
        if item.parent:
            continue
        if not item.is_group:
            if item.key in leaf_json:
                top.append(leaf_json[item.key])
            continue
        members = [c for c in checked if c.parent == item.key]
        inner = [leaf_json[c.key] for c in members if c.key in leaf_json]
        if inner:
            top.append(_negated({"op": item.group_op, "rules": inner}, item.negate))
        elif not members:
            checked[n] = replace(item, problem="add a rule to this group")
    return {"op": root_op, "rules": top}, checked


def _item_from_leaf(rule: Rules, parent: str, negate: bool) -> RuleItem:
    item = RuleItem(key=_new_key(), parent=parent, negate=negate, type=str(rule.get("type")))
    if item.type == "tags":
        item.tag_mode = rule.get("mode", "any")
        item.tag_ids = [str(t) for t in rule.get("tags", [])]
    elif item.type == "consent":
        item.channel = rule.get("channel", "email")
        item.consent = "yes" if rule.get("value") else "no"
    elif item.type == "created":
        item.created_op = rule.get("op", "last_days")
        if item.created_op == "last_days":
            item.days = str(rule.get("value", 30))
        else:
            item.date = str(rule.get("value", ""))[:10]
    elif item.type in (*_CAMPAIGN_TYPES, "redeemed"):
        campaign = rule.get("campaign_id")
        item.campaign_id = str(campaign) if campaign is not None else ""
    elif item.type in ("inactive_days", "no_visit_days"):
        item.days = str(rule.get("value", 90))
    elif item.type == "visits_in_days":
        item.visits = str(rule.get("count", 2))
        item.days = str(rule.get("days", 30))
    elif item.type == "visit_count":
        item.visits = str(rule.get("value", 2))
    elif item.type == "birthday_month":
        item.month = str(rule.get("value", 1))
    return item


def _unwrap_not(rule: Rules) -> tuple[Rules, bool]:
    if rule.get("op") == "not":
        return rule["rule"], True
    return rule, False


def items_from_rules(rules: Rules) -> tuple[str, list[RuleItem]]:
    """The builder's view of saved JSON; ValueError when it nests deeper than the builder shows."""
    if rules.get("op") in ("and", "or"):
        root_op, top = rules["op"], rules.get("rules", [])
    else:
        root_op, top = "and", [rules]
    items: list[RuleItem] = []
    for child in top:
        inner, negate = _unwrap_not(child)
        if inner.get("op") in ("and", "or"):
            group = RuleItem(key=_new_key(), is_group=True, group_op=inner["op"], negate=negate)
            items.append(group)
            for leaf in inner.get("rules", []):
                leaf_inner, leaf_negate = _unwrap_not(leaf)
                if "type" not in leaf_inner:
                    raise ValueError("This segment nests groups deeper than the builder shows.")
                items.append(_item_from_leaf(leaf_inner, group.key, leaf_negate))
        elif "type" in inner:
            items.append(_item_from_leaf(inner, "", negate))
        else:
            raise ValueError("This segment nests groups deeper than the builder shows.")
    return root_op, items


def _count_and_sample(rules: Rules) -> tuple[int, list[CustomerRow]]:
    with session_scope() as session:
        return (
            segments.count_matching(session, rules),
            segments.sample_matching(session, rules, SAMPLE_SIZE),
        )


def _count_rules(rules: Rules) -> int:
    if "type" in rules:
        return 1
    if rules.get("op") == "not":
        return _count_rules(rules["rule"])
    return sum(_count_rules(r) for r in rules.get("rules", []))


class SegmentsState(AuthState):
    segment_list: list[SegmentView] = []
    all_tags: list[TagView] = []
    campaigns: list[dict[str, str]] = []
    list_message: str = ""

    # The editor.
    editing: bool = False
    edit_id: str = ""
    name: str = ""
    root_op: str = "and"
    items: list[RuleItem] = []
    save_error: str = ""
    live_count: int = 0
    counting: bool = False
    sample: list[dict[str, str]] = []
    delete_id: str = ""
    delete_name: str = ""

    _generation: int = 0

    @rx.var
    def rule_count(self) -> int:
        return sum(1 for i in self.items if not i.is_group)

    @rx.var
    def problems(self) -> int:
        return sum(1 for i in self.items if i.problem)

    @rx.event
    def load(self):
        self.editing = False
        self.list_message = ""
        self._load_lists()

    def _load_lists(self) -> None:
        with session_scope() as session:
            found = segments.list_segments_with_counts(session)
            tag_rows = tags.list_tags_with_counts(session)
            campaign_rows = campaign_choices(session, CAMPAIGNS_LISTED)
            zone = business_identity(session).timezone
        self.segment_list = [
            SegmentView(
                str(s.id),
                s.name,
                s.customers,
                _count_rules(s.rules),
                format_datetime(s.updated_at, zone),
            )
            for s in found
        ]
        self.all_tags = [TagView(str(t.id), t.name, t.color, t.customers) for t in tag_rows]
        self.campaigns = [{"id": str(i), "name": n} for i, n in campaign_rows]

    # Opening and saving --------------------------------------------------------------------

    def _open(self, segment_id: str, name: str, root_op: str, items: list[RuleItem]):
        self.edit_id = segment_id
        self.name = name
        self.root_op = root_op
        self.items = items
        self.save_error = ""
        self.list_message = ""
        self.editing = True
        return self._changed()

    @rx.event
    def new_segment(self):
        return self._open("", "", "and", [])

    @rx.event
    def edit_segment(self, segment_id: str):
        with session_scope() as session:
            try:
                segment = segments.get_segment(session, int(segment_id))
            except LookupError as exc:
                self.list_message = str(exc)
                self._load_lists()
                return None
            name, rules = segment.name, segments.segment_rules(segment)
        try:
            root_op, items = items_from_rules(rules)
        except (ValueError, KeyError, TypeError, AttributeError):
            self.list_message = "This segment's rules are too deeply nested for the builder."
            return None
        return self._open(segment_id, name, root_op, items)

    @rx.event
    def cancel_edit(self):
        self.editing = False
        self._generation += 1

    @rx.event
    def set_name(self, value: str):
        self.name = value

    @rx.event
    def save(self):
        rules, checked = rules_from_items(self.root_op, self.items)
        self.items = checked
        if any(i.problem for i in checked):
            self.save_error = "Finish or remove the rules marked in red before saving."
            return
        try:
            with session_scope() as session:
                if self.edit_id:
                    segments.update_segment(session, int(self.edit_id), self.name, rules)
                else:
                    segments.create_segment(session, self.name, rules)
        except (ValueError, LookupError) as exc:
            self.save_error = str(exc)
            return
        self.list_message = f"Segment “{' '.join(self.name.split())}” saved."
        self.editing = False
        self._generation += 1
        self._load_lists()

    @rx.event
    def ask_delete(self, segment_id: str):
        found = next((s for s in self.segment_list if s.id == segment_id), None)
        self.delete_id = segment_id
        self.delete_name = found.name if found else ""

    @rx.event
    def set_delete_open(self, value: bool):
        if not value:
            self.delete_id = ""

    @rx.event
    def confirm_delete(self):
        try:
            with session_scope() as session:
                segments.delete_segment(session, int(self.delete_id))
        except LookupError as exc:
            self.list_message = str(exc)
        else:
            self.list_message = f"Segment “{self.delete_name}” deleted."
        self.delete_id = ""
        self._load_lists()

    # Editing the rule tree ----------------------------------------------------------------------

    def _changed(self):
        """Re-check the rules now; recount after a short quiet period (see `recount`)."""
        _, self.items = rules_from_items(self.root_op, self.items)
        self._generation += 1
        self.counting = True
        return SegmentsState.recount

    def _update(self, key: str, **changes: Any):
        self.items = [replace(i, **changes) if i.key == key else i for i in self.items]
        return self._changed()

    @rx.event
    def set_root_op(self, value: str):
        if value in ("and", "or"):
            self.root_op = value
            return self._changed()
        return None

    @rx.event
    def add_rule(self, parent: str = ""):
        item = RuleItem(key=_new_key(), parent=parent)
        if parent:
            last = max(
                (n for n, i in enumerate(self.items) if i.key == parent or i.parent == parent),
                default=len(self.items) - 1,
            )
            self.items = [*self.items[: last + 1], item, *self.items[last + 1 :]]
        else:
            self.items = [*self.items, item]
        return self._changed()

    @rx.event
    def add_group(self):
        group = RuleItem(key=_new_key(), is_group=True, group_op="or")
        self.items = [*self.items, group, RuleItem(key=_new_key(), parent=group.key)]
        return self._changed()

    @rx.event
    def remove_item(self, key: str):
        self.items = [i for i in self.items if i.key != key and i.parent != key]
        return self._changed()

    @rx.event
    def toggle_negate(self, key: str):
        current = next((i for i in self.items if i.key == key), None)
        if current is None:
            return None
        return self._update(key, negate=not current.negate)

    @rx.event
    def set_group_op(self, key: str, value: str):
        return self._update(key, group_op=value if value in ("and", "or") else "and")

    @rx.event
    def set_type(self, key: str, value: str):
        if value not in dict(RULE_TYPES):
            return None
        days = "90" if value in ("inactive_days", "no_visit_days") else "30"
        return self._update(key, type=value, campaign_id="", days=days)

    @rx.event
    def set_tag_mode(self, key: str, value: str):
        return self._update(key, tag_mode=value if value in ("any", "all", "none") else "any")

    @rx.event
    def toggle_tag(self, key: str, tag_id: str):
        current = next((i for i in self.items if i.key == key), None)
        if current is None:
            return None
        ids = current.tag_ids
        ids = [t for t in ids if t != tag_id] if tag_id in ids else [*ids, tag_id]
        return self._update(key, tag_ids=ids)

    @rx.event
    def set_channel(self, key: str, value: str):
        return self._update(key, channel=value if value in ("email", "sms") else "email")

    @rx.event
    def set_consent(self, key: str, value: str):
        return self._update(key, consent="yes" if value == "yes" else "no")

    @rx.event
    def set_created_op(self, key: str, value: str):
        op = value if value in ("before", "after", "last_days") else "last_days"
        return self._update(key, created_op=op)

    @rx.event
    def set_date(self, key: str, value: str):
        return self._update(key, date=value[:10])

    @rx.event
    def set_days(self, key: str, value: str):
        return self._update(key, days=value[:6])

    @rx.event
    def set_visits(self, key: str, value: str):
        return self._update(key, visits=value[:6])

    @rx.event
    def set_month(self, key: str, value: str):
        return self._update(key, month=value if value in dict(MONTHS) else "1")

    @rx.event
    def set_campaign(self, key: str, value: str):
        return self._update(key, campaign_id="" if value == ANY else value)

    @rx.event(background=True)
    async def recount(self):
        """Debounced live count: only the last change within DEBOUNCE_S reaches the database."""
        async with self:
            generation = self._generation
        await asyncio.sleep(DEBOUNCE_S)
        async with self:
            if generation != self._generation:
                return
            rules, _ = rules_from_items(self.root_op, self.items)
        try:
            count, sample = await asyncio.to_thread(_count_and_sample, rules)
        except ValueError as exc:
            async with self:
                if generation == self._generation:
                    self.save_error = str(exc)
                    self.counting = False
            return
        async with self:
            if generation != self._generation:
                return
            self.live_count = count
            self.sample = [
                {
                    "name": r.display_name,
                    "email": r.email or "—",
                    "phone": r.phone or "—",
                    "consent": " · ".join(
                        label
                        for label, on in (("email", r.email_consent), ("SMS", r.sms_consent))
                        if on
                    )
                    or "none",
                }
                for r in sample
            ]
            self.counting = False
