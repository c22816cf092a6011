"""Import page: upload a CSV, map its columns, run the import as an RQ job and watch it live."""

from __future__ import annotations

import asyncio
import csv
import json
import uuid
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import reflex as rx
from sqlalchemy import select

from marketing_ui.core import importer
from marketing_ui.core.config import get_settings
from marketing_ui.core.csv_reader import FIELDS, guess_mapping, iter_records, read_headers
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import ImportJob
from marketing_ui.core.tags import MAX_TAG_NAME
from marketing_ui.state.access import session_user, still_allowed, upload_limit
from marketing_ui.state.auth import AuthState
from workers.queues import IMPORTS, get_queue

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
NOT_MAPPED = "__none__"
ERRORS_SHOWN = 100
POLL_S = 0.5
FINISHED = ("done", "failed")
FIELD_LABELS = {
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "phone": "Phone",
    "email_consent": "Email consent",
    "sms_consent": "SMS consent",
    "tags": "Tags (comma separated)",
}


def imports_dir() -> Path:
    return get_settings().data_dir / "imports"


@dataclass(frozen=True)
class JobSnapshot:
    status: str
    rows_total: int
    rows_done: int
    created: int
    updated: int
    errors: int
    message: str
    report_path: str


def job_snapshot(job_id: int) -> JobSnapshot | None:
    """The counters the worker keeps current on the ImportJob row (one primary-key read)."""
    with session_scope() as session:
        job = session.get(ImportJob, job_id)
        if job is None:
            return None
        return JobSnapshot(
            job.status,
            job.rows_total,
            job.rows_done,
            job.created_count,
            job.updated_count,
            job.error_count,
            job.message,
            job.report_path or "",
        )


def report_head(path: str, limit: int = ERRORS_SHOWN) -> list[dict[str, str]]:
    """The first rejected rows of an error report: line number and reason only."""
    if not path or not Path(path).is_file():
        return []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        return [
            {"line": row[0], "reason": row[1]} for row in islice(reader, limit) if len(row) >= 2
        ]


def _save_upload(source, dest: Path) -> int:  # noqa: ANN001 - a binary file object
    """Copy in 1 MB blocks; stops (and removes the file) past the size limit."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with open(dest, "wb") as out:
        while block := source.read(1024 * 1024):
            size += len(block)
            if size > MAX_UPLOAD_BYTES:
                break
            out.write(block)
    if size > MAX_UPLOAD_BYTES:
        dest.unlink(missing_ok=True)
    return size


def _preview(path: Path, headers: list[str]) -> list[list[str]]:
    return [[values.get(h, "") for h in headers] for _, values in islice(iter_records(path), 3)]


class ImportState(AuthState):
    step: str = "upload"  # upload -> map -> running -> finished
    upload_error: str = ""
    filename: str = ""
    headers: list[str] = []
    preview: list[list[str]] = []
    mapping: dict[str, str] = {}
    mode: str = "add_only"
    tags_text: str = ""
    start_error: str = ""

    job_id: int = 0
    status: str = ""
    rows_total: int = 0
    rows_done: int = 0
    created: int = 0
    updated: int = 0
    error_count: int = 0
    message: str = ""
    report_rows: list[dict[str, str]] = []
    has_report: bool = False

    _stored_path: str = ""
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
        if self.rows_total <= 0:
            return 100 if self.status == "done" else 0
        return min(100, round(100 * self.rows_done / self.rows_total))

    @rx.var
    def errors_hidden(self) -> int:
        return max(0, self.error_count - len(self.report_rows))

    @rx.event
    def load(self):
        """Resume watching an import still running (the owner may come back to the page)."""
        with session_scope() as session:
            running = session.execute(
                select(ImportJob.id, ImportJob.filename)
                .where(ImportJob.status.in_(("queued", "running")))
                .order_by(ImportJob.id.desc())
                .limit(1)
            ).first()
        if running is not None:
            self.job_id, self.filename = running
            self.step = "running"
            return ImportState.poll_job
        if self.step == "running":
            self.step = "finished"
        return None

    @rx.event
    def start_over(self):
        if self.step == "map" and self._stored_path:
            Path(self._stored_path).unlink(missing_ok=True)  # uploaded but never imported
        self.step = "upload"
        self.upload_error = ""
        self.start_error = ""
        self.filename = ""
        self.headers = []
        self.preview = []
        self.mapping = {}
        self.tags_text = ""
        self.job_id = 0
        self.report_rows = []
        self.has_report = False
        self._stored_path = ""

    @rx.event
    @upload_limit(MAX_UPLOAD_BYTES)
    async def handle_upload(self, files: list[rx.UploadFile]):
        if not files:
            return
        upload = files[0]
        name = Path(upload.filename or "upload.csv").name[:200]
        dest = imports_dir() / f"{uuid.uuid4().hex}.csv"
        size = await asyncio.to_thread(_save_upload, upload.file, dest)
        if size > MAX_UPLOAD_BYTES:
            self.upload_error = f"{name} is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB."
            return
        headers = await asyncio.to_thread(read_headers, dest)
        if not headers:
            dest.unlink(missing_ok=True)
            self.upload_error = f"{name} has no header line: is it empty?"
            return
        guessed = guess_mapping(headers)
        self.filename = name
        self.headers = headers
        self.preview = await asyncio.to_thread(_preview, dest, headers)
        self.mapping = {f: guessed.get(f, NOT_MAPPED) for f in FIELDS}
        self.upload_error = ""
        self.start_error = ""
        self._stored_path = str(dest)
        self.step = "map"

    @rx.event
    def set_mapping(self, field_name: str, column: str):
        if field_name in FIELDS and (column == NOT_MAPPED or column in self.headers):
            self.mapping = {**self.mapping, field_name: column}

    @rx.event
    def set_mode(self, value: str):
        if value in importer.MODES:
            self.mode = value

    @rx.event
    def set_tags_text(self, value: str):
        self.tags_text = value

    @rx.event
    def start_import(self):
        mapping = {f: c for f, c in self.mapping.items() if c != NOT_MAPPED}
        tag_names = [t.strip() for t in self.tags_text.split(",") if t.strip()]
        try:
            importer.check_mapping(mapping, self.headers)
            if any(len(t) > MAX_TAG_NAME for t in tag_names):
                raise ValueError(f"A tag name can have at most {MAX_TAG_NAME} characters.")
            if not self._stored_path or not Path(self._stored_path).is_file():
                raise ValueError("The uploaded file is gone; upload it again.")
        except ValueError as exc:
            self.start_error = str(exc)
            return None
        user = session_user(self)
        with session_scope() as session:
            job = ImportJob(
                filename=self.filename,
                stored_path=self._stored_path,
                mode=self.mode,
                mapping_json=json.dumps(mapping),
                tags_json=json.dumps(tag_names),
                created_by=user.id if user else None,
            )
            session.add(job)
            session.flush()
            job_id = int(job.id)  # type: ignore[arg-type]
        get_queue(IMPORTS).enqueue(importer.import_job, job_id, job_timeout=3600)
        self.job_id = job_id
        self.status = "queued"
        self.rows_total = self.rows_done = self.created = self.updated = self.error_count = 0
        self.message = ""
        self.report_rows = []
        self.has_report = False
        self.start_error = ""
        self.step = "running"
        return ImportState.poll_job

    @rx.event(background=True)
    async def poll_job(self):
        """Read the job's counters every half second until it ends or the owner leaves the page."""
        async with self:
            self._poll_generation += 1
            generation = self._poll_generation
            job_id = self.job_id
        snap = None
        while True:
            snap = await asyncio.to_thread(job_snapshot, job_id)
            async with self:
                if generation != self._poll_generation or self.job_id != job_id:
                    return
                if not self.router.url.path.startswith("/import") or not still_allowed(self):
                    return
                if snap is None:
                    self.step = "upload"
                    self.start_error = "That import job no longer exists."
                    return
                self.status = snap.status
                self.rows_total = snap.rows_total
                self.rows_done = snap.rows_done
                self.created = snap.created
                self.updated = snap.updated
                self.error_count = snap.errors
                self.message = snap.message
            if snap.status in FINISHED:
                break
            await asyncio.sleep(POLL_S)
        rows = await asyncio.to_thread(report_head, snap.report_path)
        async with self:
            if generation == self._poll_generation:
                self.report_rows = rows
                self.has_report = bool(snap.report_path)
                self.step = "finished"
