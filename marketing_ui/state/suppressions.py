"""Suppressions page: who never receives messages and why, found by exact address, lifted with a
reason. Every handler is for admins (the default audience); all work is in core.suppressions."""

from __future__ import annotations

import reflex as rx

from marketing_ui.core import suppressions
from marketing_ui.core.app_settings import business_identity
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import SuppressionReason
from marketing_ui.core.time_display import format_datetime
from marketing_ui.state.auth import AuthState

ALL = "all"
REASON_LABELS = {
    SuppressionReason.BOUNCE.value: "Hard bounce",
    SuppressionReason.COMPLAINT.value: "Spam complaint",
    SuppressionReason.STOP.value: "Replied STOP",
    SuppressionReason.INVALID.value: "Refused by the provider",
}
CHANNEL_LABELS = {"email": "Email", "sms": "SMS"}
REASON_CHOICES = [ALL, *REASON_LABELS]
CHANNEL_CHOICES = [ALL, *CHANNEL_LABELS]


def _row(r: suppressions.SuppressionRow, zone: str) -> dict[str, str]:
    return {
        "id": str(r.id),
        "channel": CHANNEL_LABELS.get(r.channel, r.channel),
        "reason": r.reason,
        "why": REASON_LABELS.get(r.reason, r.reason),
        "detail": r.detail,
        "since": format_datetime(r.created_at, zone),
        "address": r.address or "no customer has it now",
        "known": "1" if r.address else "",
        "stop": "1" if r.reason == SuppressionReason.STOP else "",
    }


class SuppressionsState(AuthState):
    reason: str = ALL
    channel: str = ALL
    find_text: str = ""
    find_form_key: int = 0  # a new key empties the find box
    found_mode: bool = False  # the list shows the result of "Find", not a page
    rows: list[dict[str, str]] = []
    total: int = 0
    page_cursors: list[str] = [""]
    next_cursor: str = ""
    error: str = ""
    message: str = ""
    revealed_id: str = ""
    revealed: str = ""
    lifts: list[dict[str, str]] = []
    # The lift dialog.
    lift_open: bool = False
    lift_id: str = ""
    lift_address: str = ""
    lift_why: str = ""
    lift_error: str = ""
    lift_form_key: int = 0

    @rx.var
    def page_number(self) -> int:
        return len(self.page_cursors)

    def _filter(self) -> suppressions.SuppressionFilter:
        return suppressions.SuppressionFilter(
            reason="" if self.reason == ALL else self.reason,
            channel="" if self.channel == ALL else self.channel,
        )

    def _load(self, cursor: str) -> None:
        self.revealed_id = self.revealed = ""
        try:
            with session_scope() as session:
                page = suppressions.list_suppressions(session, self._filter(), cursor or None)
                self.total = suppressions.count(session, self._filter())
                lifts = suppressions.recent_lifts(session)
                zone = business_identity(session).timezone
        except suppressions.SuppressionError as exc:
            self.error, self.page_cursors, self.rows = str(exc), [""], []
            return
        self.error = ""
        self.found_mode = False
        self.next_cursor = page.next_cursor or ""
        self.rows = [_row(r, zone) for r in page.rows]
        self.lifts = [
            {
                "at": format_datetime(x.lifted_at, zone),
                "by": x.lifted_by,
                "channel": CHANNEL_LABELS.get(x.channel, x.channel),
                "was": REASON_LABELS.get(x.reason, x.reason),
                "address": x.address or "no customer has it now",
                "note": x.note,
            }
            for x in lifts
        ]

    def _first_page(self) -> None:
        self.page_cursors = [""]
        self._load("")

    @rx.event
    def load(self):
        self.message = ""
        self.find_text = ""
        self.lift_open = False
        self._first_page()

    @rx.event
    def set_reason(self, value: str):
        self.reason = value if value in REASON_CHOICES else ALL
        self._first_page()

    @rx.event
    def set_channel(self, value: str):
        self.channel = value if value in CHANNEL_CHOICES else ALL
        self._first_page()

    @rx.event
    def find(self, form: dict):
        typed = str(form.get("find", ""))[:200]
        self.find_text, self.message = typed, ""
        try:
            with session_scope() as session:
                found = suppressions.find(session, typed)
                zone = business_identity(session).timezone
        except suppressions.SuppressionError as exc:
            self.error = str(exc)
            return
        self.error = ""
        self.found_mode = True
        self.revealed_id = self.revealed = ""
        self.rows = [_row(r, zone) for r in found]
        self.next_cursor = ""
        self.message = "" if found else "This address is not suppressed."

    @rx.event
    def clear_find(self):
        self.find_text, self.message = "", ""
        self.find_form_key += 1
        self._first_page()

    @rx.event
    def next_page(self):
        if self.next_cursor and not self.found_mode:
            self.page_cursors = [*self.page_cursors, self.next_cursor]
            self._load(self.next_cursor)

    @rx.event
    def previous_page(self):
        if len(self.page_cursors) > 1 and not self.found_mode:
            self.page_cursors = self.page_cursors[:-1]
            self._load(self.page_cursors[-1])

    @rx.event
    def reveal(self, suppression_id: str):
        if not suppression_id.isdigit() or suppression_id not in {r["id"] for r in self.rows}:
            return
        try:
            with session_scope() as session:
                value = suppressions.reveal(session, int(suppression_id))
        except suppressions.SuppressionError as exc:
            self.error = str(exc)
            return
        self.revealed_id, self.revealed = suppression_id, value

    @rx.event
    def hide(self):
        self.revealed_id = self.revealed = ""

    @rx.event
    def ask_lift(self, suppression_id: str):
        row = next((r for r in self.rows if r["id"] == suppression_id), None)
        if row is None:
            return
        self.lift_id = suppression_id
        self.lift_address = row["address"]
        self.lift_why = f"{row['why']} ({row['channel']}) since {row['since']}"
        self.lift_error = ""
        self.lift_form_key += 1
        self.lift_open = True

    @rx.event
    def set_lift_open(self, value: bool):
        self.lift_open = bool(value)

    @rx.event
    def confirm_lift(self, form: dict):
        if not self.lift_id.isdigit():
            self.lift_open = False
            return
        try:
            with session_scope() as session:
                lifted = suppressions.lift(session, int(self.lift_id), str(form.get("note", "")))
        except suppressions.SuppressionError as exc:
            self.lift_error = str(exc)
            return
        self.lift_open, self.lift_error = False, ""
        self._first_page()
        self.message = lifted.message
