"""Customers page: one keyset page of the filtered table, the add/edit dialog, detail, bulk actions, tags."""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass, field

import reflex as rx

from marketing_ui.api.customer_export import export_path
from marketing_ui.components.tag_badges import TagView
from marketing_ui.core import customer_export, customer_rights, customers, segments, tags
from marketing_ui.core.app_settings import business_identity
from marketing_ui.core.check_in import personal_qr_image
from marketing_ui.core.customers import (
    BulkTarget,
    CustomerError,
    CustomerFilter,
    CustomerInput,
    TagRef,
)
from marketing_ui.core.db import session_scope
from marketing_ui.core.time_display import format_date, format_datetime
from marketing_ui.state.access import session_user
from marketing_ui.state.auth import AuthState

CONSENT_SOURCE_LABELS = {
    "import": "CSV import",
    "manual": "Changed by hand",
    "unsubscribe_link": "Unsubscribe link",
    "stop": "STOP reply",
    "bounce": "Bounce",
    "complaint": "Spam complaint",
    "api": "API",
    "signup_form": "Signup form",
    "text_to_join": "Text to join",
    "confirm_link": "Confirmation link",
    "sms_yes": "YES reply",
    "preferences": "Preference page",
    "erase": "Erased",
}


@dataclass
class CustomerRowView:
    id: str = ""
    name: str = ""
    email: str = ""
    phone: str = ""
    email_consent: bool = False
    sms_consent: bool = False
    created: str = ""
    tags: list[TagView] = field(default_factory=list)
    visits: int = 0
    last_visit: str = ""


@dataclass
class CustomerDetailView:
    id: str = ""
    name: str = ""
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    email_consent: bool = False
    sms_consent: bool = False
    created: str = ""
    last_activity: str = ""
    visits: int = 0
    last_visit: str = ""
    birthday: str = ""  # "29 February" or "4 July 1990", "" when not given
    birthday_month: str = ""
    birthday_day: str = ""
    birthday_year: str = ""
    personal_qr: str = ""  # data URI of the customer's personal QR (counter check-in)
    tags: list[TagView] = field(default_factory=list)
    consent_history: list[dict[str, str]] = field(default_factory=list)
    deliveries: list[dict[str, str]] = field(default_factory=list)
    redemptions: list[dict[str, str]] = field(default_factory=list)


def _birthday_text(month: int | None, day: int | None, year: int | None) -> str:
    if not month or not day:
        return ""
    text = f"{day} {calendar.month_name[month]}"
    return f"{text} {year}" if year else text


def tag_views(refs: tuple[TagRef, ...] | list[TagRef]) -> list[TagView]:
    return [TagView(str(t.id), t.name, t.color) for t in refs]


def _consent_filter(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


class CustomersState(AuthState):
    # The listing: filter, one page of rows, keyset cursors of the pages walked so far.
    search: str = ""
    tag_filter: str = "all"
    email_filter: str = "any"
    sms_filter: str = "any"
    rows: list[CustomerRowView] = []
    total: int = 0
    page_cursors: list[str] = [""]  # cursor that opened each visited page; page 1 has none
    next_cursor: str = ""
    list_error: str = ""

    # Selection and bulk actions.
    selected_ids: list[str] = []
    all_matching: bool = False
    bulk_tag: str = ""
    bulk_message: str = ""
    confirm_delete_open: bool = False

    # Tags, for filters, pickers and the tag manager.
    all_tags: list[TagView] = []
    tags_open: bool = False
    tag_error: str = ""
    new_tag_color: str = "blue"
    tag_delete_id: str = ""
    tag_delete_name: str = ""
    tag_delete_count: int = 0

    # Add/edit dialog.
    edit_open: bool = False
    edit_id: str = ""
    edit_form_key: int = 0
    edit_values: dict[str, str] = {}
    edit_email_consent: bool = False
    edit_sms_consent: bool = False
    edit_tag_ids: list[str] = []
    edit_error: str = ""
    edit_error_field: str = ""

    # Detail dialog.
    detail_open: bool = False
    detail: CustomerDetailView = CustomerDetailView()

    # Export dialog: choose who, then a single-use download link (the filter stays server-side).
    export_open: bool = False
    export_scope: str = "all"  # all | filter | segment
    export_segment: str = ""
    export_segments: list[list[str]] = []  # [id, name]
    export_path: str = ""
    export_count: int = 0
    export_error: str = ""

    @rx.var
    def page_number(self) -> int:
        return len(self.page_cursors)

    @rx.var
    def has_previous(self) -> bool:
        return len(self.page_cursors) > 1

    @rx.var
    def has_next(self) -> bool:
        return self.next_cursor != ""

    @rx.var
    def page_ids(self) -> list[str]:
        return [r.id for r in self.rows]

    @rx.var
    def page_all_selected(self) -> bool:
        return bool(self.rows) and all(r.id in self.selected_ids for r in self.rows)

    @rx.var
    def target_count(self) -> int:
        return self.total if self.all_matching else len(self.selected_ids)

    @rx.var
    def target_label(self) -> str:
        if self.all_matching:
            return f"all {self.total} matching customers"
        n = len(self.selected_ids)
        return f"{n} selected customer{'' if n == 1 else 's'}"

    # Loading ---------------------------------------------------------------------------

    def _filter(self) -> CustomerFilter:
        return CustomerFilter(
            search=self.search.strip(),
            tag_id=int(self.tag_filter) if self.tag_filter.isdigit() else None,
            email_consent=_consent_filter(self.email_filter),
            sms_consent=_consent_filter(self.sms_filter),
        )

    def _load_tags(self) -> None:
        with session_scope() as session:
            found = tags.list_tags_with_counts(session)
        self.all_tags = [TagView(str(t.id), t.name, t.color, t.customers) for t in found]

    def _load_page(self, cursor: str) -> None:
        filt = self._filter()
        try:
            with session_scope() as session:
                page = customers.list_customers(session, filt, cursor or None)
                self.total = customers.count_customers(session, filt)
                zone = business_identity(session).timezone
        except ValueError as exc:  # a stale cursor: start again from the first page
            self.list_error = str(exc)
            self.page_cursors = [""]
            return
        self.list_error = ""
        self.next_cursor = page.next_cursor or ""
        self.rows = [
            CustomerRowView(
                id=str(r.id),
                name=r.display_name,
                email=r.email,
                phone=r.phone,
                email_consent=r.email_consent,
                sms_consent=r.sms_consent,
                created=format_date(r.created_at, zone),
                tags=tag_views(r.tags),
                visits=r.visit_count,
                last_visit=format_date(r.last_visit_at, zone) if r.last_visit_at else "",
            )
            for r in page.rows
        ]

    def _reload_first_page(self) -> None:
        self.page_cursors = [""]
        self.selected_ids = []
        self.all_matching = False
        self._load_page("")

    @rx.event
    def load(self):
        self.bulk_message = ""
        self._load_tags()
        self._reload_first_page()

    @rx.event
    def set_search(self, value: str):
        self.search = value
        self._reload_first_page()

    @rx.event
    def set_tag_filter(self, value: str):
        self.tag_filter = value
        self._reload_first_page()

    @rx.event
    def set_email_filter(self, value: str):
        self.email_filter = value
        self._reload_first_page()

    @rx.event
    def set_sms_filter(self, value: str):
        self.sms_filter = value
        self._reload_first_page()

    @rx.event
    def clear_filters(self):
        self.search = ""
        self.tag_filter = "all"
        self.email_filter = "any"
        self.sms_filter = "any"
        self._reload_first_page()

    @rx.event
    def next_page(self):
        if not self.next_cursor:
            return
        self.page_cursors = [*self.page_cursors, self.next_cursor]
        self._load_page(self.next_cursor)

    @rx.event
    def previous_page(self):
        if len(self.page_cursors) <= 1:
            return
        self.page_cursors = self.page_cursors[:-1]
        self._load_page(self.page_cursors[-1])

    def _refresh_current_page(self) -> None:
        self._load_page(self.page_cursors[-1])
        if not self.rows and len(self.page_cursors) > 1:
            self.page_cursors = self.page_cursors[:-1]
            self._load_page(self.page_cursors[-1])

    # Selection and bulk actions -------------------------------------------------------------

    @rx.event
    def toggle_selected(self, customer_id: str):
        self.all_matching = False
        if customer_id in self.selected_ids:
            self.selected_ids = [i for i in self.selected_ids if i != customer_id]
        else:
            self.selected_ids = [*self.selected_ids, customer_id]

    @rx.event
    def toggle_page(self, _checked: bool = False):
        self.all_matching = False
        ids = [r.id for r in self.rows]
        if all(i in self.selected_ids for i in ids):
            self.selected_ids = [i for i in self.selected_ids if i not in ids]
        else:
            self.selected_ids = [
                *self.selected_ids,
                *(i for i in ids if i not in self.selected_ids),
            ]

    @rx.event
    def select_all_matching(self):
        self.all_matching = True

    @rx.event
    def clear_selection(self):
        self.selected_ids = []
        self.all_matching = False
        self.bulk_message = ""

    @rx.event
    def set_bulk_tag(self, value: str):
        self.bulk_tag = value

    def _target(self) -> BulkTarget:
        if self.all_matching:
            return self._filter()
        return [int(i) for i in self.selected_ids]

    def _bulk_tag_id(self) -> int | None:
        if not self.bulk_tag.isdigit():
            self.bulk_message = "Pick a tag first."
            return None
        return int(self.bulk_tag)

    @rx.event
    def bulk_add_tag(self):
        tag_id = self._bulk_tag_id()
        if tag_id is None or not self.target_count:
            return
        try:
            with session_scope() as session:
                n = customers.bulk_add_tag(session, self._target(), tag_id)
        except LookupError as exc:
            self.bulk_message = str(exc)
            return
        self.bulk_message = f"Tag added to {n} customer{'' if n == 1 else 's'}."
        self._load_tags()
        self._refresh_current_page()

    @rx.event
    def bulk_remove_tag(self):
        tag_id = self._bulk_tag_id()
        if tag_id is None or not self.target_count:
            return
        with session_scope() as session:
            n = customers.bulk_remove_tag(session, self._target(), tag_id)
        self.bulk_message = f"Tag removed from {n} customer{'' if n == 1 else 's'}."
        self._load_tags()
        self._refresh_current_page()

    @rx.event
    def set_confirm_delete_open(self, value: bool):
        self.confirm_delete_open = value

    @rx.event
    def bulk_delete(self):
        if not self.target_count:
            return
        with session_scope() as session:
            n = customers.delete_customers(session, self._target())
        self.confirm_delete_open = False
        self.bulk_message = f"Deleted {n} customer{'' if n == 1 else 's'}."
        self._load_tags()
        self._reload_first_page()

    # Add / edit / delete one customer ------------------------------------------------------

    def _open_form(self, customer_id: str, values: dict[str, str], email: bool, sms: bool) -> None:
        self.edit_id = customer_id
        self.edit_values = values
        self.edit_email_consent = email
        self.edit_sms_consent = sms
        self.edit_error = ""
        self.edit_error_field = ""
        self.edit_form_key += 1
        self.edit_open = True

    @rx.event
    def open_add(self):
        self._load_tags()
        self.edit_tag_ids = []
        self._open_form("", {}, False, False)

    @rx.event
    def open_edit(self):
        """Edit the customer shown in the detail dialog."""
        if not self.detail.id:
            return
        d = self.detail
        self.detail_open = False
        self.edit_tag_ids = [t.id for t in d.tags]
        values = {
            "first_name": d.first_name,
            "last_name": d.last_name,
            "email": d.email,
            "phone": d.phone,
            "birthday_month": d.birthday_month,
            "birthday_day": d.birthday_day,
            "birthday_year": d.birthday_year,
        }
        self._open_form(d.id, values, d.email_consent, d.sms_consent)

    @rx.event
    def set_edit_open(self, value: bool):
        self.edit_open = value

    @rx.event
    def set_edit_email_consent(self, value: bool):
        self.edit_email_consent = value

    @rx.event
    def set_edit_sms_consent(self, value: bool):
        self.edit_sms_consent = value

    @rx.event
    def toggle_edit_tag(self, tag_id: str):
        if tag_id in self.edit_tag_ids:
            self.edit_tag_ids = [t for t in self.edit_tag_ids if t != tag_id]
        else:
            self.edit_tag_ids = [*self.edit_tag_ids, tag_id]

    @rx.event
    def save_customer(self, form: dict):
        data = CustomerInput(
            first_name=str(form.get("first_name", "")),
            last_name=str(form.get("last_name", "")),
            email=str(form.get("email", "")),
            phone=str(form.get("phone", "")),
            email_consent=self.edit_email_consent,
            sms_consent=self.edit_sms_consent,
            tag_ids=[int(t) for t in self.edit_tag_ids if t.isdigit()],
            birthday_month=str(form.get("birthday_month", ""))[:4],
            birthday_day=str(form.get("birthday_day", ""))[:4],
            birthday_year=str(form.get("birthday_year", ""))[:6],
        )
        # Keep what was typed, so an error does not wipe the form.
        self.edit_values = {
            k: str(getattr(data, k) or "")
            for k in (
                "first_name",
                "last_name",
                "email",
                "phone",
                "birthday_month",
                "birthday_day",
                "birthday_year",
            )
        }
        try:
            with session_scope() as session:
                if self.edit_id:
                    customer = customers.update_customer(session, int(self.edit_id), data)
                else:
                    customer = customers.create_customer(session, data)
                name = f"{customer.first_name} {customer.last_name}".strip() or "the customer"
        except CustomerError as exc:
            self.edit_error = str(exc)
            self.edit_error_field = exc.field
            return
        except LookupError as exc:
            self.edit_error = str(exc)
            return
        self.edit_open = False
        self.bulk_message = f"Saved {name}."
        self._load_tags()
        if self.edit_id:
            self._refresh_current_page()
        else:
            self._reload_first_page()

    @rx.event
    def delete_one(self):
        """Delete the customer shown in the detail dialog."""
        if not self.detail.id:
            return
        try:
            with session_scope() as session:
                customers.delete_customer(session, int(self.detail.id))
        except LookupError as exc:
            self.bulk_message = str(exc)
        else:
            self.bulk_message = f"Deleted {self.detail.name}."
        self.detail_open = False
        self._load_tags()
        self._refresh_current_page()
        self.selected_ids = [i for i in self.selected_ids if i != self.detail.id]

    @rx.event
    def download_data(self):
        """The shown customer's data, the same JSON the customer downloads (audited)."""
        if not self.detail.id:
            return None
        try:
            with session_scope() as session:
                data = customer_rights.export_for_admin(session, int(self.detail.id))
        except LookupError as exc:
            self.bulk_message = str(exc)
            return None
        return rx.download(
            data=json.dumps(data, ensure_ascii=False, indent=2),
            filename=f"customer-{self.detail.id}-data.json",
        )

    @rx.event
    def erase_one(self):
        """Erase the shown customer's personal data; their anonymous analytics stay (audited)."""
        if not self.detail.id:
            return
        customer_id = int(self.detail.id)
        try:
            with session_scope() as session:
                customer_rights.erase(session, customer_id, requested_by="admin")
        except LookupError as exc:
            self.bulk_message = str(exc)
        else:
            self.bulk_message = (
                f"Erased customer #{customer_id}: contact data removed, analytics kept."
            )
        self.detail_open = False
        self._load_tags()
        self._refresh_current_page()
        self.selected_ids = [i for i in self.selected_ids if i != self.detail.id]

    # Detail -------------------------------------------------------------------------------

    @rx.event
    def open_detail(self, customer_id: str):
        try:
            with session_scope() as session:
                d = customers.customer_detail(session, int(customer_id))
                zone = business_identity(session).timezone
        except LookupError as exc:
            self.bulk_message = str(exc)
            self._refresh_current_page()
            return
        self.detail = CustomerDetailView(
            id=str(d.id),
            name=d.display_name,
            first_name=d.first_name,
            last_name=d.last_name,
            email=d.email,
            phone=d.phone,
            email_consent=d.email_consent,
            sms_consent=d.sms_consent,
            created=format_datetime(d.created_at, zone),
            last_activity=format_datetime(d.last_activity_at, zone) or "none yet",
            visits=d.visit_count,
            last_visit=format_datetime(d.last_visit_at, zone) or "never",
            birthday=_birthday_text(d.birthday_month, d.birthday_day, d.birthday_year),
            birthday_month=str(d.birthday_month or ""),
            birthday_day=str(d.birthday_day or ""),
            birthday_year=str(d.birthday_year or ""),
            personal_qr=personal_qr_image(d),
            tags=tag_views(d.tags),
            consent_history=[
                {
                    "when": format_datetime(c.created_at, zone),
                    "channel": "Email" if c.channel == "email" else "SMS",
                    "change": "subscribed" if c.granted else "unsubscribed",
                    "source": CONSENT_SOURCE_LABELS.get(c.source, c.source),
                    "origin": c.origin or "—",
                    "wording": c.wording_version or "—",
                    "proof": "yes" if c.proof_hash else "—",
                    "note": c.note,
                }
                for c in d.consent_history
            ],
            deliveries=[
                {
                    "when": format_datetime(x.sent_at or x.created_at, zone),
                    "campaign": x.campaign_name,
                    "channel": x.channel,
                    "status": x.status,
                }
                for x in d.deliveries[:50]
            ],
            redemptions=[
                {
                    "when": format_datetime(x.created_at, zone),
                    "campaign": x.campaign_name,
                    "action": x.action,
                    "note": x.note,
                }
                for x in d.redemptions[:50]
            ],
        )
        self.detail_open = True

    @rx.event
    def set_detail_open(self, value: bool):
        self.detail_open = value

    # Export ---------------------------------------------------------------------------------

    @rx.event
    def set_export_open(self, value: bool):
        self.export_open = value
        self.export_path = ""
        self.export_error = ""
        if value:
            with session_scope() as session:
                self.export_segments = [[str(i), name] for i, name in segments.choices(session)]

    @rx.event
    def set_export_scope(self, value: str):
        if value in ("all", "filter", "segment"):
            self.export_scope = value
            self.export_path = ""

    @rx.event
    def set_export_segment(self, value: str):
        if value.isdigit():
            self.export_segment = value
            self.export_path = ""

    @rx.event
    def prepare_export(self):
        """Issue the download ticket for the chosen customers (checked here, not in the browser)."""
        user = session_user(self)
        if user is None:  # the authorisation middleware refuses such events before this
            return None
        if self.export_scope == "segment":
            if not self.export_segment.isdigit():
                self.export_error = "Choose a segment to export."
                return None
            scope = customer_export.ExportScope(segment_id=int(self.export_segment))
        elif self.export_scope == "filter":
            scope = customer_export.ExportScope(filter=self._filter())
        else:
            scope = customer_export.ExportScope()
        try:
            self.export_count = customer_export.count_scope(scope)
        except LookupError as exc:
            self.export_error = str(exc)
            return None
        self.export_error = ""
        self.export_path = export_path(customer_export.issue_ticket(scope, user.id))
        return None

    @rx.event
    def export_link_used(self):
        """A ticket downloads once: the next download needs a fresh one."""
        self.export_path = ""

    # Tag management --------------------------------------------------------------------------

    @rx.event
    def set_tags_open(self, value: bool):
        self.tags_open = value
        self.tag_error = ""
        self.tag_delete_id = ""
        if value:
            self._load_tags()

    @rx.event
    def set_new_tag_color(self, value: str):
        self.new_tag_color = value

    def _tag_action(self, action) -> None:  # noqa: ANN001 - a callable taking a session
        try:
            with session_scope() as session:
                action(session)
        except (ValueError, LookupError) as exc:
            self.tag_error = str(exc)
            return
        self.tag_error = ""
        self._load_tags()
        self._refresh_current_page()

    @rx.event
    def create_tag(self, form: dict):
        name = str(form.get("name", ""))
        self._tag_action(lambda s: tags.create_tag(s, name, self.new_tag_color))

    @rx.event
    def rename_tag(self, tag_id: str, name: str):
        current = next((t for t in self.all_tags if t.id == tag_id), None)
        if current is None or current.name == name.strip():
            return
        self._tag_action(lambda s: tags.rename_tag(s, int(tag_id), name))

    @rx.event
    def set_tag_color(self, tag_id: str, color: str):
        self._tag_action(lambda s: tags.set_tag_color(s, int(tag_id), color))

    @rx.event
    def ask_delete_tag(self, tag_id: str):
        """Count the customers first, so the confirmation says what the delete touches."""
        with session_scope() as session:
            self.tag_delete_count = tags.tag_usage(session, int(tag_id))
        current = next((t for t in self.all_tags if t.id == tag_id), None)
        self.tag_delete_name = current.name if current else ""
        self.tag_delete_id = tag_id

    @rx.event
    def cancel_delete_tag(self):
        self.tag_delete_id = ""

    @rx.event
    def confirm_delete_tag(self):
        tag_id = self.tag_delete_id
        self.tag_delete_id = ""
        if self.tag_filter == tag_id:
            self.tag_filter = "all"
        self._tag_action(lambda s: tags.delete_tag(s, int(tag_id)))
