"""The development Outbox: what the outbox provider stored instead of sending, a page at a time."""

from __future__ import annotations

import json
from typing import Any

import reflex as rx

from marketing_ui.core.app_settings import business_identity
from marketing_ui.core.config import get_settings
from marketing_ui.core.db import session_scope
from marketing_ui.core.sending.providers import read_outbox
from marketing_ui.core.time_display import format_datetime
from marketing_ui.core.tracking import without_tracking
from marketing_ui.state.auth import AuthState

PAGE_SIZE = 25


def _summary(row: dict[str, Any], zone: str) -> dict[str, str]:
    preview = row["subject"] if row["channel"] == "email" else row["text"]
    return {
        "id": str(row["id"]),
        "at": format_datetime(row["created_at"], zone, seconds=True),
        "channel": row["channel"],
        "to": row["to"],
        "preview": (preview or "")[:90],
        "test": "test" if row["is_test"] else "",
    }


class OutboxState(AuthState):
    rows: list[dict[str, str]] = []
    page_number: int = 1
    has_next: bool = False
    provider_note: str = ""
    selected: dict[str, str] = {}
    _page: list[dict[str, Any]] = []
    _timezone: str = "UTC"

    def _fetch(self) -> None:
        with session_scope() as session:
            found = read_outbox(
                session, limit=PAGE_SIZE + 1, offset=(self.page_number - 1) * PAGE_SIZE
            )
            self._timezone = business_identity(session).timezone
        self.has_next = len(found) > PAGE_SIZE
        self._page = found[:PAGE_SIZE]
        self.rows = [_summary(r, self._timezone) for r in self._page]

    @rx.event
    def load(self):
        settings = get_settings()
        outbox = [
            name
            for name, provider in (
                ("email", settings.email_provider),
                ("SMS", settings.sms_provider),
            )
            if provider == "outbox"
        ]
        self.provider_note = (
            f"The outbox provider is active for {' and '.join(outbox)}: messages are stored here "
            "instead of being sent."
            if outbox
            else "Real providers are configured; only messages stored earlier appear here."
        )
        self.page_number = 1
        self.selected = {}
        self._fetch()

    @rx.event
    def open_message(self, message_id: str):
        row = next((r for r in self._page if str(r["id"]) == message_id), None)
        if row is None:
            return
        headers = "\n".join(f"{k}: {v}" for k, v in row["headers"].items())
        self.selected = {
            "id": str(row["id"]),
            "channel": row["channel"],
            "to": row["to"],
            "subject": row["subject"],
            "html": without_tracking(row["html"] or ""),
            "text": row["text"],
            "headers": headers or json.dumps(row["headers"]),
            "at": format_datetime(row["created_at"], self._timezone, seconds=True),
            "test": "test" if row["is_test"] else "",
        }

    @rx.event
    def close_message(self):
        self.selected = {}

    @rx.event
    def next_page(self):
        if self.has_next:
            self.page_number += 1
            self.selected = {}
            self._fetch()

    @rx.event
    def previous_page(self):
        if self.page_number > 1:
            self.page_number -= 1
            self.selected = {}
            self._fetch()
