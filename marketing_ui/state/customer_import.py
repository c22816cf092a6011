"""Import page: upload a CSV, map its columns, start the import, watch it, and see past imports.

Everything that lasts lives in the core (`core.import_jobs`): the upload, the job row, the
queue, the history. This state holds only what the page shows, so leaving the page,
reconnecting or restarting the app loses nothing: `load` reads it all back from the database.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import BinaryIO

import reflex as rx
from sqlmodel import Session

from marketing_ui.core import import_jobs
from marketing_ui.core.app_settings import business_identity
from marketing_ui.core.config import get_settings
from marketing_ui.core.csv_reader import FIELDS
from marketing_ui.core.db import session_scope
from marketing_ui.core.import_jobs import ImportOptions, ImportView, UploadError
from marketing_ui.core.importer import MODES
from marketing_ui.core.models import ImportStatus, InvalidPhone
from marketing_ui.core.phone_regions import check_region, region_choices, region_label
from marketing_ui.core.time_display import format_datetime
from marketing_ui.state.access import session_user, still_allowed, upload_limit
from marketing_ui.state.auth import AuthState

MAX_UPLOAD_BYTES = import_jobs.MAX_UPLOAD_BYTES
NOT_MAPPED = "__none__"
ERRORS_SHOWN = 100
POLL_S = 0.5
FIELD_LABELS = {
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "phone": "Phone",
    "birthday": "Birthday",
    "email_consent": "Email consent",
    "sms_consent": "SMS consent",
    "tags": "Tags (comma separated)",
}
STATUS_LABELS = {
    ImportStatus.QUEUED: "waiting for a worker",
    ImportStatus.RUNNING: "running",
    ImportStatus.DONE: "done",
    ImportStatus.FAILED: "failed",
}


@dataclass
class ImportCard:
    """The import whose progress the page shows (a live one, or the last one started here)."""

    id: int = 0
    filename: str = ""
    status: str = ""
    rows_total: int = 0
    rows_done: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    phones_dropped: int = 0
    errors: int = 0
    message: str = ""
    has_report: bool = False


@dataclass
class HistoryRow:
    id: str = ""
    filename: str = ""
    started: str = ""  # who and when
    status: str = ""
    status_label: str = ""
    counts: str = ""
    message: str = ""
    has_report: bool = False


@dataclass
class ReportRow:
    line: str = ""
    outcome: str = ""
    reason: str = ""


def _card(view: ImportView) -> ImportCard:
    return ImportCard(
        id=view.id,
        filename=view.filename,
        status=view.status,
        rows_total=view.rows_total,
        rows_done=view.rows_done,
        created=view.created,
        updated=view.updated,
        unchanged=view.unchanged,
        skipped=view.skipped,
        phones_dropped=view.phones_dropped,
        errors=view.errors,
        message=view.message,
        has_report=view.has_report,
    )


def _history_row(view: ImportView, zone: str) -> HistoryRow:
    counts = [f"{view.rows_total} rows", f"{view.created} created", f"{view.updated} updated"]
    if view.unchanged:
        counts.append(f"{view.unchanged} unchanged")
    if view.skipped:
        counts.append(f"{view.skipped} already there")
    if view.phones_dropped:
        counts.append(f"{view.phones_dropped} without phone")
    counts.append(f"{view.errors} rejected")
    if view.status in import_jobs.ACTIVE and view.rows_total:
        counts.insert(0, f"{view.rows_done} of {view.rows_total} read")
    who = view.username or "someone"
    return HistoryRow(
        id=str(view.id),
        filename=view.filename,
        started=f"{who} · {format_datetime(view.started_at, zone)}",
        status=view.status,
        status_label=STATUS_LABELS.get(ImportStatus(view.status), view.status),
        counts=" · ".join(counts),
        message=view.message if view.status == ImportStatus.FAILED else "",
        has_report=view.has_report,
    )


def _history(session: Session) -> list[HistoryRow]:
    zone = business_identity(session).timezone
    return [_history_row(v, zone) for v in import_jobs.import_history(session)]


def _store(source: BinaryIO, filename: str, user_id: int | None) -> import_jobs.Upload:
    with session_scope() as session:
        return import_jobs.store_upload(session, source, filename, user_id)


def _phone_check(job_id: int, mapping: dict[str, str], region: str) -> import_jobs.PhoneCheck:
    with session_scope() as session:
        return import_jobs.check_phones(session, job_id, mapping, region)


def _view(job_id: int) -> ImportView | None:
    with session_scope() as session:
        return import_jobs.import_view(session, job_id)


class ImportState(AuthState):
    step: str = "upload"  # upload -> map -> progress
    upload_error: str = ""
    filename: str = ""
    rows_in_file: int = 0
    headers: list[str] = []
    preview: list[list[str]] = []
    mapping: dict[str, str] = {}
    mode: str = "add_only"
    tags_text: str = ""
    regions: list[list[str]] = []  # [code, label] for the region select
    region: str = ""
    invalid_phone: str = InvalidPhone.REJECT_ROW.value
    phone_summary: str = ""
    start_error: str = ""

    job: ImportCard = ImportCard()
    report_rows: list[ReportRow] = []
    history: list[HistoryRow] = []

    _upload_id: int = 0  # the upload on the mapping screen (never taken from the browser)
    _poll_generation: int = 0

    @rx.var
    def fields(self) -> list[dict[str, str]]:
        return [{"field": f, "label": FIELD_LABELS[f]} for f in FIELDS]

    @rx.var
    def consent_summary(self) -> list[str]:
        """Which consent columns feed which flag, said plainly before the import runs."""
        lines = []
        for key, channel in (("email_consent", "Email"), ("sms_consent", "SMS")):
            column = self.mapping.get(key, NOT_MAPPED)
            if column != NOT_MAPPED:
                lines.append(
                    f"{channel} consent comes from column “{column}”: rows with an empty "
                    "cell there keep their current flag (new customers: not subscribed)."
                )
            else:
                lines.append(
                    f"No {channel} consent column is mapped: every imported customer is NOT "
                    f"subscribed to {channel} (existing customers keep their flag)."
                )
        return lines

    @rx.var
    def percent(self) -> int:
        if self.job.rows_total <= 0:
            return 100 if self.job.status == ImportStatus.DONE else 0
        return min(100, round(100 * self.job.rows_done / self.job.rows_total))

    @rx.var
    def finished(self) -> bool:
        return self.job.status in import_jobs.FINISHED

    @rx.var
    def errors_hidden(self) -> int:
        shown = sum(1 for r in self.report_rows if r.outcome == "rejected")
        return max(0, self.job.errors - shown)

    # Loading ------------------------------------------------------------------------------

    def _load_history(self) -> None:
        with session_scope() as session:
            self.history = _history(session)

    @rx.event
    def load(self):
        """Rebuild the page from the database: the upload being mapped, the import, the history."""
        self.regions = [[code, label] for code, label in region_choices()]
        if not self.region:
            self.region = get_settings().default_region
        with session_scope() as session:
            self.history = _history(session)
            if self.step == "map":
                if not import_jobs.upload_is_waiting(session, self._upload_id):
                    self._reset_upload()
                    self.upload_error = (
                        "The file you had uploaded is no longer waiting to be imported (started "
                        "in another tab, or not started within an hour and deleted: customer "
                        "files are not kept longer). Upload it again."
                    )
                return None
            shown = import_jobs.import_view(session, self.job.id) if self.job.id else None
            if shown is None or shown.status not in import_jobs.ACTIVE:
                shown = import_jobs.active_import(session) or shown
        if shown is None:
            self.step = "upload"
            return None
        self.job = _card(shown)
        self.step = "progress"
        return ImportState.poll_job

    def _reset_upload(self) -> None:
        self.step = "upload"
        self.filename = ""
        self.rows_in_file = 0
        self.headers = []
        self.preview = []
        self.mapping = {}
        self.tags_text = ""
        self.phone_summary = ""
        self.start_error = ""
        self._upload_id = 0

    @rx.event
    def start_over(self):
        """Back to step 1; an upload left on the mapping screen is deleted now, not in an hour."""
        if self.step == "map" and self._upload_id:
            with session_scope() as session:
                import_jobs.discard_upload(session, self._upload_id)
        self._reset_upload()
        self.upload_error = ""
        self.job = ImportCard()
        self.report_rows = []
        self._load_history()

    # Step 1: upload ----------------------------------------------------------------------------

    @rx.event
    @upload_limit(MAX_UPLOAD_BYTES)
    async def handle_upload(self, files: list[rx.UploadFile]):
        if not files:
            self.upload_error = "Choose one CSV file."
            return
        upload = files[0]
        user = session_user(self)
        try:
            stored = await asyncio.to_thread(
                _store, upload.file, upload.filename or "", user.id if user else None
            )
        except UploadError as exc:
            self.upload_error = str(exc)
            return
        if self._upload_id:
            with session_scope() as session:
                import_jobs.discard_upload(session, self._upload_id)
        self._upload_id = stored.job_id
        self.filename = stored.filename
        self.rows_in_file = stored.rows
        self.headers = stored.headers
        self.preview = stored.preview
        self.mapping = {f: stored.guessed.get(f, NOT_MAPPED) for f in FIELDS}
        self.region = self.region or get_settings().default_region
        self.upload_error = ""
        self.start_error = ""
        self.step = "map"
        await self._check_phones()

    @rx.event
    def upload_rejected(self, _rejected: list[dict]):
        """The browser refused the file before sending it (type or size)."""
        self.upload_error = (
            f"Choose one .csv, .txt or .tsv file of at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB."
        )

    # Step 2: mapping and options ------------------------------------------------------------

    def _chosen_mapping(self) -> dict[str, str]:
        return {f: c for f, c in self.mapping.items() if c != NOT_MAPPED}

    async def _check_phones(self) -> None:
        """How many of the first rows the region choice and the invalid-phone choice affect."""
        if not self._upload_id or self.mapping.get("phone", NOT_MAPPED) == NOT_MAPPED:
            self.phone_summary = ""
            return
        try:
            check = await asyncio.to_thread(
                _phone_check, self._upload_id, self._chosen_mapping(), self.region
            )
        except ValueError as exc:
            self.phone_summary = str(exc)
            return
        where = region_label(self.region)
        scope = (
            f"the first {check.rows_checked} rows"
            if check.rows_checked < self.rows_in_file
            else f"the {check.rows_checked} rows"
        )
        if check.unparseable == 0:
            self.phone_summary = f"Every phone number in {scope} reads as a number of {where}."
            return
        has = "has" if check.unparseable == 1 else "have"
        self.phone_summary = (
            f"{check.unparseable} of {scope} {has} a phone number that does not read as a "
            f"number of {where}. With an email (can import without the phone): "
            f"{check.with_email}. Without a usable email (rejected either way): "
            f"{check.without_email}."
        )

    @rx.event
    async def set_mapping(self, field_name: str, column: str):
        if field_name in FIELDS and (column == NOT_MAPPED or column in self.headers):
            self.mapping = {**self.mapping, field_name: column}
            if field_name in ("phone", "email"):
                await self._check_phones()

    @rx.event
    async def set_region(self, value: str):
        try:
            self.region = check_region(value)
        except ValueError:
            return
        await self._check_phones()

    @rx.event
    def set_invalid_phone(self, value: str):
        if value in tuple(InvalidPhone):
            self.invalid_phone = value

    @rx.event
    def set_mode(self, value: str):
        if value in MODES:
            self.mode = value

    @rx.event
    def set_tags_text(self, value: str):
        self.tags_text = value[:2000]

    @rx.event
    def start_import(self):
        options = ImportOptions(
            mapping=self._chosen_mapping(),
            mode=self.mode,
            tags=self.tags_text.split(","),
            region=self.region,
            invalid_phone=self.invalid_phone,
        )
        try:
            with session_scope() as session:
                import_jobs.start_import(session, self._upload_id, options)
                view = import_jobs.import_view(session, self._upload_id)
        except ValueError as exc:  # UploadError included: the message names what to change
            self.start_error = str(exc)
            return None
        assert view is not None
        self.job = _card(view)
        self.report_rows = []
        self._reset_upload()
        self.step = "progress"
        self._load_history()
        return ImportState.poll_job

    # Step 3: progress ---------------------------------------------------------------------------

    @rx.event(background=True)
    async def poll_job(self):
        """Read the job's counters every half second until it ends or the owner leaves the page.

        The final counts, the report rows and the history change in one update, so the page
        never shows "done" without its report.
        """
        async with self:
            self._poll_generation += 1
            generation = self._poll_generation
            job_id = self.job.id
            status = self.job.status
        while True:
            view = await asyncio.to_thread(_view, job_id)
            finished = view is not None and view.status in import_jobs.FINISHED
            rows = (
                await asyncio.to_thread(import_jobs.report_preview, job_id, ERRORS_SHOWN)
                if finished
                else []
            )
            async with self:
                if generation != self._poll_generation or self.job.id != job_id:
                    return
                if not self.router.url.path.startswith("/import") or not still_allowed(self):
                    return
                if view is None:
                    self.job = ImportCard()
                    self.step = "upload"
                    return
                self.job = _card(view)
                self.report_rows = [ReportRow(*row) for row in rows]
                if view.status != status:  # queued -> running -> done: the history says so too
                    status = view.status
                    self._load_history()
            if finished:
                return
            await asyncio.sleep(POLL_S)
