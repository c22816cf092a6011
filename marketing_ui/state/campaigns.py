"""Campaign list: filters, paging, duplicate, delete-or-archive."""

from __future__ import annotations

import reflex as rx

from marketing_ui.core import campaigns, statuses
from marketing_ui.core.app_settings import business_identity
from marketing_ui.core.db import session_scope
from marketing_ui.core.time_display import format_datetime
from marketing_ui.state.auth import AuthState

PAGE_SIZE = 20
CHANNEL_LABELS = {"email": "Email", "sms": "SMS", "both": "Email + SMS"}
# Statuses with a live progress page (another page's concern; we only link to it).


class CampaignsState(AuthState):
    rows: list[dict[str, str]] = []
    status_filter: str = "all"
    search: str = ""
    sort: str = "created"
    show_archived: bool = False
    offset: int = 0
    total: int = 0
    message: str = ""
    error: str = ""
    # The delete/archive confirmation dialog.
    dialog_open: bool = False
    dialog_id: int = 0
    dialog_name: str = ""
    dialog_has_history: bool = False

    @rx.var
    def page_label(self) -> str:
        if not self.total:
            return ""
        last = min(self.offset + PAGE_SIZE, self.total)
        return f"{self.offset + 1}–{last} of {self.total}"

    @rx.var
    def has_prev(self) -> bool:
        return self.offset > 0

    @rx.var
    def has_next(self) -> bool:
        return self.offset + PAGE_SIZE < self.total

    def _refresh(self) -> None:
        filt = campaigns.CampaignFilter(
            status=None if self.status_filter == "all" else self.status_filter,
            search=self.search,
            archived=self.show_archived,
            sort=self.sort,
        )
        with session_scope() as session:
            page = campaigns.list_campaigns(session, filt, self.offset, PAGE_SIZE)
            summaries = {
                row.id: campaigns.audience_summary(session, row.audience_json) for row in page.rows
            }
            zone = business_identity(session).timezone
        self.total = page.total
        self.rows = [
            {
                "id": str(row.id),
                "name": row.name,
                "channel": CHANNEL_LABELS.get(row.channel, row.channel),
                "status": row.status,
                "audience": summaries[row.id],
                "sent_date": format_datetime(row.sent_at, zone)
                or (
                    f"Scheduled {format_datetime(row.scheduled_at, zone)}"
                    if row.scheduled_at
                    else "—"
                ),
                "recipients": str(row.recipients) if row.recipients else "—",
                "sent": str(row.sent) if row.recipients else "—",
                "failed": str(row.failed) if row.recipients else "—",
                "history": "1" if row.has_history else "",
                "editable": "1" if row.status in campaigns.EDITABLE_STATUSES else "",
                "progress": "1" if row.status in statuses.HAS_PROGRESS and row.has_history else "",
                "archived": "1" if row.archived else "",
                "coupons": "1" if row.has_qr_code and row.has_history else "",
                "pause_note": row.pause_message,
            }
            for row in page.rows
        ]

    @rx.event
    def load(self):
        self.message = ""
        self.error = ""
        self.dialog_open = False
        self._refresh()

    @rx.event
    def set_status_filter(self, value: str):
        self.status_filter = value
        self.offset = 0
        self._refresh()

    @rx.event
    def set_search(self, value: str):
        self.search = value
        self.offset = 0
        self._refresh()

    @rx.event
    def set_sort(self, value: str):
        self.sort = value if value in campaigns.SORTS else "created"
        self.offset = 0
        self._refresh()

    @rx.event
    def set_show_archived(self, value: bool):
        self.show_archived = bool(value)
        self.offset = 0
        self._refresh()

    @rx.event
    def next_page(self):
        if self.offset + PAGE_SIZE < self.total:
            self.offset += PAGE_SIZE
            self._refresh()

    @rx.event
    def prev_page(self):
        self.offset = max(0, self.offset - PAGE_SIZE)
        self._refresh()

    @rx.event
    def duplicate(self, campaign_id: str):
        try:
            with session_scope() as session:
                copy = campaigns.duplicate_campaign(session, int(campaign_id))
        except campaigns.CampaignError as exc:
            self.error, self.message = str(exc), ""
            return None
        self.error, self.message = "", f"Created “{copy.name}” as a draft."
        self.show_archived = False
        self.offset = 0
        self._refresh()
        return None

    @rx.event
    def ask_delete(self, campaign_id: str):
        row = next((r for r in self.rows if r["id"] == campaign_id), None)
        if row is None:
            return
        self.dialog_id = int(campaign_id)
        self.dialog_name = row["name"]
        self.dialog_has_history = bool(row["history"]) or row["status"] not in (
            "draft",
            "cancelled",
        )
        self.dialog_open = True

    @rx.event
    def close_dialog(self):
        self.dialog_open = False

    @rx.event
    def confirm_delete(self):
        self.dialog_open = False
        try:
            with session_scope() as session:
                campaigns.delete_campaign(session, self.dialog_id)
        except campaigns.CampaignError as exc:
            self.error, self.message = str(exc), ""
        else:
            self.error, self.message = "", f"Deleted “{self.dialog_name}”."
        self._refresh()
        if not self.rows and self.offset:
            self.prev_page()

    @rx.event
    def confirm_archive(self):
        self.dialog_open = False
        self._set_archived(self.dialog_id, True, f"Archived “{self.dialog_name}”.")

    @rx.event
    def unarchive(self, campaign_id: str):
        self._set_archived(int(campaign_id), False, "Restored the campaign to the list.")

    def _set_archived(self, campaign_id: int, archived: bool, done: str) -> None:
        try:
            with session_scope() as session:
                campaigns.archive_campaign(session, campaign_id, archived)
        except campaigns.CampaignError as exc:
            self.error, self.message = str(exc), ""
        else:
            self.error, self.message = "", done
        self._refresh()
