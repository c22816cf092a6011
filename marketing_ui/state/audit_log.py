"""Audit log page: who changed what, newest first, filtered by person, area, object and dates."""

from __future__ import annotations

import reflex as rx

from marketing_ui.core import audit
from marketing_ui.core.app_settings import business_identity
from marketing_ui.core.db import session_scope
from marketing_ui.core.time_display import format_datetime
from marketing_ui.state.auth import AuthState

ANYONE = "anyone"
ANY_AREA = "all"
AREAS = [
    "customer",
    "tag",
    "segment",
    "campaign",
    "coupon",
    "import",
    "settings",
    "suppression",
    "user",
]


class AuditLogState(AuthState):
    actor: str = ANYONE
    area: str = ANY_AREA
    object_id: str = ""
    since: str = ""
    until: str = ""
    actors: list[str] = []
    rows: list[dict[str, str]] = []
    page_cursors: list[str] = [""]
    next_cursor: str = ""
    error: str = ""

    @rx.var
    def page_number(self) -> int:
        return len(self.page_cursors)

    def _filter(self) -> audit.AuditFilter:
        since, until = audit.day_range(self.since, self.until)
        return audit.AuditFilter(
            actor="" if self.actor == ANYONE else self.actor,
            action="" if self.area == ANY_AREA else self.area,
            object_id=self.object_id.strip()[:40],
            since=since,
            until=until,
        )

    def _load(self, cursor: str) -> None:
        try:
            with session_scope() as session:
                page = audit.list_entries(session, self._filter(), cursor or None)
                zone = business_identity(session).timezone
        except ValueError as exc:
            self.error, self.page_cursors = str(exc), [""]
            return
        self.error = ""
        self.next_cursor = page.next_cursor or ""
        self.rows = [
            {
                "at": format_datetime(e.at, zone),
                "actor": e.actor,
                "action": e.action,
                "object": f"{e.object_type} #{e.object_id}" if e.object_id else e.object_type,
                "summary": e.summary,
            }
            for e in page.entries
        ]

    def _first_page(self) -> None:
        self.page_cursors = [""]
        self._load("")

    @rx.event
    def load(self):
        with session_scope() as session:
            self.actors = [ANYONE, *audit.actors(session)]
        self._first_page()

    @rx.event
    def set_actor(self, value: str):
        self.actor = value if value in self.actors else ANYONE
        self._first_page()

    @rx.event
    def set_area(self, value: str):
        self.area = value if value in AREAS else ANY_AREA
        self._first_page()

    @rx.event
    def set_object_id(self, value: str):
        self.object_id = value[:40]
        self._first_page()

    @rx.event
    def set_since(self, value: str):
        self.since = value[:10]
        self._first_page()

    @rx.event
    def set_until(self, value: str):
        self.until = value[:10]
        self._first_page()

    @rx.event
    def clear_filters(self):
        self.actor, self.area, self.object_id, self.since, self.until = ANYONE, ANY_AREA, "", "", ""
        self._first_page()

    @rx.event
    def next_page(self):
        if self.next_cursor:
            self.page_cursors = [*self.page_cursors, self.next_cursor]
            self._load(self.next_cursor)

    @rx.event
    def previous_page(self):
        if len(self.page_cursors) > 1:
            self.page_cursors = self.page_cursors[:-1]
            self._load(self.page_cursors[-1])
