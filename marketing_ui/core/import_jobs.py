"""An import as the owner lives it: an uploaded file, a job in the queue, live counters, the
history of past imports with their reports, and the clean-up that keeps no customer file on
disk longer than needed. The row-by-row work itself is `core.importer`.

Each ImportJob row moves through its statuses by conditional UPDATEs, so two actors (a
double click, two workers, the sweeper and a worker) never both win a step:

    uploaded --start_import--> queued --run_job claims--> running --> done | failed
    uploaded --discard_upload, or UPLOAD_TTL passes--> abandoned

The uploaded file holds plaintext PII: it is a 0600 file under data/imports/uploads (never
under Reflex's public upload folder), deleted when its import ends, succeeded or failed, or
is abandoned; `stored_path` is then NULL. The periodic tick (workers/scheduler.py) calls
`sweep`, which also re-queues an import whose RQ job Redis lost (a second run is harmless:
only one claim wins), fails an import whose worker stopped writing progress, and deletes
error reports after REPORT_TTL.
"""

from __future__ import annotations

import csv
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import BinaryIO

import redis
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from marketing_ui.core import audit, jobs, redis_keys
from marketing_ui.core.clock import as_utc, utcnow
from marketing_ui.core.config import get_settings
from marketing_ui.core.crypto import normalize_phone
from marketing_ui.core.csv_reader import (
    CsvFileError,
    guess_mapping,
    inspect_file,
    iter_records,
    read_headers,
)
from marketing_ui.core.importer import (
    MODES,
    ImportResult,
    check_mapping,
    report_path_for,
    run_import,
)
from marketing_ui.core.jobs import ENDED_BADLY, IMPORTS, Job, JobState
from marketing_ui.core.models import ImportJob, ImportStatus, InvalidPhone, User
from marketing_ui.core.phone_regions import check_region
from marketing_ui.core.private_files import private_dir, private_opener
from marketing_ui.core.tags import MAX_TAG_NAME

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_TAGS = 20
UPLOAD_TTL = timedelta(hours=1)  # an upload not started by then is deleted
REQUEUE_AFTER = timedelta(minutes=2)  # a queued import whose RQ job is gone is queued again
STALL_AFTER = timedelta(minutes=15)  # a running import silent this long lost its worker
REPORT_TTL = timedelta(days=30)  # error reports echo rejected rows: kept a month
RQ_TIMEOUT_S = 3600
PREVIEW_ROWS = 3
PREVIEW_CELL_CHARS = 60
PHONE_SAMPLE_ROWS = 1000
HISTORY_LIMIT = 20
ACTIVE = (ImportStatus.QUEUED.value, ImportStatus.RUNNING.value)
FINISHED = (ImportStatus.DONE.value, ImportStatus.FAILED.value)
SHOWN = (*ACTIVE, *FINISHED)  # what the history lists (uploads never started are not imports)

_jobs = ImportJob.__table__


class UploadError(ValueError):
    """The uploaded file cannot be imported: the message names the file and says why."""


@dataclass(frozen=True)
class Upload:
    """A checked upload, ready for the mapping screen."""

    job_id: int
    filename: str
    headers: list[str]
    rows: int
    preview: list[list[str]]
    guessed: dict[str, str]


@dataclass(frozen=True)
class ImportOptions:
    """What the owner chose on the mapping screen."""

    mapping: dict[str, str]
    mode: str = "add_only"
    tags: list[str] = field(default_factory=list)
    region: str = ""  # "" means the DEFAULT_REGION setting
    invalid_phone: str = InvalidPhone.REJECT_ROW


@dataclass(frozen=True)
class PhoneCheck:
    """How many of the first rows have a phone that does not parse in the chosen region."""

    rows_checked: int
    unparseable: int
    with_email: int  # of those, rows that can import without the phone

    @property
    def without_email(self) -> int:
        return self.unparseable - self.with_email


@dataclass(frozen=True)
class ImportView:
    """One import as the history and the progress card show it."""

    id: int
    filename: str
    username: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    rows_total: int
    rows_done: int
    created: int
    updated: int
    unchanged: int
    skipped: int
    phones_dropped: int
    errors: int
    message: str
    has_report: bool


# Upload ------------------------------------------------------------------------------------


def uploads_dir() -> Path:
    """Where uploaded CSVs wait for their import: the data folder, owner-only."""
    return private_dir(get_settings().data_dir / "imports" / "uploads")


def _copy_limited(source: BinaryIO, dest: Path) -> int:
    """Copy in 1 MB blocks into a 0600 file; stops past the size limit (the caller deletes)."""
    size = 0
    with open(dest, "xb", opener=private_opener) as out:
        while block := source.read(1024 * 1024):
            size += len(block)
            if size > MAX_UPLOAD_BYTES:
                break
            out.write(block)
    return size


def store_upload(session: Session, source: BinaryIO, filename: str, user_id: int | None) -> Upload:
    """Keep an uploaded CSV privately and check it reads; UploadError names what is wrong.

    The file is read before the session is touched, so no transaction waits on the disk.
    """
    name = Path(filename or "").name.strip()[:200] or "upload.csv"
    dest = uploads_dir() / f"{uuid.uuid4().hex}.csv"
    try:
        size = _copy_limited(source, dest)
        if size > MAX_UPLOAD_BYTES:
            raise UploadError(f"{name} is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
        try:
            summary = inspect_file(dest, keep_rows=PREVIEW_ROWS)
        except CsvFileError as exc:
            raise UploadError(f"{name}: {exc}") from None
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    sweep_uploads(session, utcnow())
    job = ImportJob(
        filename=name,
        stored_path=str(dest),
        status=ImportStatus.UPLOADED,
        rows_total=summary.rows,
        created_by=user_id,
    )
    session.add(job)
    session.flush()
    preview = [
        [values.get(h, "")[:PREVIEW_CELL_CHARS] for h in summary.headers]
        for values in summary.first_rows
    ]
    return Upload(
        job_id=int(job.id),  # type: ignore[arg-type]
        filename=name,
        headers=summary.headers,
        rows=summary.rows,
        preview=preview,
        guessed=guess_mapping(summary.headers),
    )


def _delete_upload_file(stored: str | None) -> None:
    """Delete an uploaded file, but only one in the uploads folder (never a path from elsewhere)."""
    if not stored:
        return
    path = Path(stored).resolve()
    if path.parent == uploads_dir().resolve():
        path.unlink(missing_ok=True)
    else:
        log.warning("import_job row points outside the uploads folder; file left alone")


def discard_upload(session: Session, job_id: int) -> bool:
    """The owner picked another file: the upload is abandoned and its file deleted."""
    return _abandon(session, job_id, "Replaced by another file before it was imported.")


def _abandon(session: Session, job_id: int, message: str, before: datetime | None = None) -> bool:
    stored = session.execute(select(ImportJob.stored_path).where(ImportJob.id == job_id)).scalar()
    query = update(_jobs).where(_jobs.c.id == job_id, _jobs.c.status == ImportStatus.UPLOADED.value)
    if before is not None:
        query = query.where(_jobs.c.created_at < before)
    won = session.execute(
        query.values(
            status=ImportStatus.ABANDONED.value,
            stored_path=None,
            message=message,
            finished_at=utcnow(),
        )
    ).rowcount  # type: ignore[attr-defined]
    if won:
        session.flush()
        _delete_upload_file(stored)
    return bool(won)


# Mapping screen ------------------------------------------------------------------------------


def _uploaded(session: Session, job_id: int) -> ImportJob:
    job = session.get(ImportJob, job_id, populate_existing=True)  # status is written in SQL
    if job is None or job.status != ImportStatus.UPLOADED or not job.stored_path:
        raise UploadError(
            "This upload is no longer waiting to be imported (it was started, replaced, or "
            f"not started within {int(UPLOAD_TTL.total_seconds() // 60)} minutes and deleted). "
            "Upload the file again."
        )
    if not Path(job.stored_path).is_file():
        raise UploadError("The uploaded file is gone; upload it again.")
    return job


def upload_is_waiting(session: Session, job_id: int) -> bool:
    """Whether an upload can still be started (not started, replaced, or swept yet)."""
    try:
        _uploaded(session, job_id)
    except UploadError:
        return False
    return True


def check_phones(session: Session, job_id: int, mapping: dict[str, str], region: str) -> PhoneCheck:
    """Count, over the first PHONE_SAMPLE_ROWS rows, the phones that do not parse in `region`."""
    job = _uploaded(session, job_id)
    region = check_region(region or get_settings().default_region)
    phone_column, email_column = mapping.get("phone"), mapping.get("email")
    if not phone_column:
        return PhoneCheck(0, 0, 0)
    checked = unparseable = with_email = 0
    for _, values in islice(iter_records(job.stored_path), PHONE_SAMPLE_ROWS):  # type: ignore[arg-type]
        checked += 1
        phone = values.get(phone_column, "")
        if not phone:
            continue
        try:
            normalize_phone(phone, region)
        except ValueError:
            unparseable += 1
            email = values.get(email_column, "") if email_column else ""
            if email and _valid_email(email):
                with_email += 1
    return PhoneCheck(checked, unparseable, with_email)


def _valid_email(value: str) -> bool:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def check_options(options: ImportOptions, headers: list[str]) -> ImportOptions:
    """The options cleaned, or ValueError naming the first thing the owner must change."""
    mapping = {f: c for f, c in options.mapping.items() if c}
    check_mapping(mapping, headers)
    if options.mode not in MODES:
        raise ValueError("Choose whether existing customers are updated or left alone.")
    tags = list(dict.fromkeys(t.strip() for t in options.tags if t.strip()))
    if len(tags) > MAX_TAGS:
        raise ValueError(f"Give at most {MAX_TAGS} tags for one import.")
    if any(len(t) > MAX_TAG_NAME for t in tags):
        raise ValueError(f"A tag name can have at most {MAX_TAG_NAME} characters.")
    region = check_region(options.region or get_settings().default_region)
    if options.invalid_phone not in tuple(InvalidPhone):
        raise ValueError("Choose what happens to rows whose phone number does not parse.")
    return ImportOptions(mapping, options.mode, tags, region, options.invalid_phone)


# Start and run ------------------------------------------------------------------------------


def rq_job_id(job_id: int) -> str:
    """One RQ job id per import and deployment, so a re-queue replaces rather than adds."""
    return redis_keys.import_job(job_id)


def _enqueue(job_id: int) -> None:
    job = Job(f"{__name__}.run_job", (job_id,), job_id=rq_job_id(job_id), timeout_s=RQ_TIMEOUT_S)
    jobs.queue().enqueue(IMPORTS, [job])


def start_import(session: Session, job_id: int, options: ImportOptions) -> None:
    """Queue an uploaded file's import with the owner's options. Commits (the worker reads it).

    If Redis is unreachable the import stays queued and the sweep queues it once Redis is back.
    """
    job = _uploaded(session, job_id)
    clean = check_options(options, read_headers(job.stored_path))  # type: ignore[arg-type]
    won = session.execute(
        update(_jobs)
        .where(_jobs.c.id == job_id, _jobs.c.status == ImportStatus.UPLOADED.value)
        .values(
            status=ImportStatus.QUEUED.value,
            mode=clean.mode,
            mapping_json=json.dumps(clean.mapping),
            tags_json=json.dumps(clean.tags),
            phone_region=clean.region,
            invalid_phone=clean.invalid_phone,
            started_at=utcnow(),
        )
    ).rowcount  # type: ignore[attr-defined]
    if not won:
        raise UploadError("This upload was started already.")
    audit.record(session, "customer.import", "import", job_id, f"mode {clean.mode}")
    session.commit()
    try:
        _enqueue(job_id)
    except redis.RedisError:
        log.warning(
            "import %s queued in the database; Redis unreachable, the sweep will retry", job_id
        )


class _TakenBack(Exception):
    """The row left "running" under the worker (the sweep declared it stalled): stop writing."""


def run_job(import_job_id: int, engine: Engine | None = None) -> str:
    """RQ task: claim the import, run it keeping its counters current, delete the upload after."""
    from marketing_ui.core.db import get_engine

    engine = engine or get_engine()

    def session() -> Session:
        return Session(engine, expire_on_commit=False)

    now = utcnow()
    with session() as s:
        claimed = s.execute(
            update(_jobs)
            .where(_jobs.c.id == import_job_id, _jobs.c.status == ImportStatus.QUEUED.value)
            .values(status=ImportStatus.RUNNING.value, progress_at=now)
        ).rowcount  # type: ignore[attr-defined]
        s.commit()
        if not claimed:
            return "not queued"  # a duplicate RQ job, or the import is gone
        job = s.get(ImportJob, import_job_id)
        assert job is not None
        path, filename, mode = job.stored_path, job.filename, job.mode
        mapping = json.loads(job.mapping_json or "{}")
        tags = json.loads(job.tags_json or "[]")
        region, invalid_phone = job.phone_region, job.invalid_phone
        counted_at_upload = job.rows_total

    def save(result: ImportResult, **extra: object) -> None:
        with session() as s:
            written = s.execute(
                update(_jobs)
                .where(_jobs.c.id == import_job_id, _jobs.c.status == ImportStatus.RUNNING.value)
                .values(
                    rows_total=result.rows_total or counted_at_upload,
                    rows_done=result.rows_done,
                    created_count=result.created,
                    updated_count=result.updated,
                    unchanged_count=result.unchanged,
                    skipped_count=result.skipped_existing,
                    phones_dropped_count=result.phones_dropped,
                    error_count=result.error_count,
                    progress_at=utcnow(),
                    **extra,
                )
            ).rowcount  # type: ignore[attr-defined]
            s.commit()
        if not written:
            raise _TakenBack

    latest = [ImportResult()]

    def on_chunk(result: ImportResult) -> None:
        latest[0] = result
        save(result)

    report = report_path_for(import_job_id)
    try:
        if not path or not Path(path).is_file():
            raise ValueError("The uploaded file is gone (deleted before a worker reached it).")
        result = run_import(
            engine,
            path,
            mapping,
            mode,
            tags,
            report_path=report,
            on_chunk=on_chunk,
            source_name=filename,
            region=region,
            invalid_phone=invalid_phone,
        )
    except _TakenBack:
        report.unlink(missing_ok=True)
        return "taken back"
    except Exception as exc:  # noqa: BLE001 - the row must say "failed" whatever went wrong
        # ValueError messages are ours (file, mapping, option problems) and carry no row data.
        message = (
            str(exc) if isinstance(exc, ValueError) else f"Import failed ({type(exc).__name__})."
        )
        log.error("import job %s failed: %s", import_job_id, type(exc).__name__)
        _finish(save, latest[0], ImportStatus.FAILED, message, report)
        return "failed"
    finally:
        _delete_upload_file(path)
    if result.error_count == 0 and result.noted == 0:  # nothing for the report to say
        report.unlink(missing_ok=True)
    _finish(save, result, ImportStatus.DONE, result.summary(), report)
    return "done"


def _finish(
    save: Callable[..., None], result: ImportResult, status: str, message: str, report: Path
) -> None:
    try:
        save(
            result,
            status=status,
            message=message,
            stored_path=None,
            report_path=str(report) if report.is_file() else None,
            finished_at=utcnow(),
        )
    except _TakenBack:
        report.unlink(missing_ok=True)


# Progress and history -------------------------------------------------------------------------


def _views(session: Session, where: object, limit: int) -> list[ImportView]:
    rows = session.execute(
        select(ImportJob, User.username)
        .outerjoin(User, User.id == ImportJob.created_by)
        .where(where)  # type: ignore[arg-type]
        .order_by(ImportJob.id.desc())
        .limit(limit)
    ).all()
    return [
        ImportView(
            id=int(job.id),  # type: ignore[arg-type]
            filename=job.filename,
            username=username or "",
            status=job.status,
            started_at=as_utc(job.started_at or job.created_at),
            finished_at=as_utc(job.finished_at),
            rows_total=job.rows_total,
            rows_done=job.rows_done,
            created=job.created_count,
            updated=job.updated_count,
            unchanged=job.unchanged_count,
            skipped=job.skipped_count,
            phones_dropped=job.phones_dropped_count,
            errors=job.error_count,
            message=job.message,
            has_report=bool(job.report_path),
        )
        for job, username in rows
    ]


def import_view(session: Session, job_id: int) -> ImportView | None:
    """One import's counters as the worker last wrote them (a primary-key read)."""
    found = _views(session, ImportJob.id == job_id, 1)
    return found[0] if found else None


def active_import(session: Session) -> ImportView | None:
    """The newest import still queued or running: the page shows its progress on return."""
    found = _views(session, ImportJob.status.in_(ACTIVE), 1)
    return found[0] if found else None


def import_history(session: Session, limit: int = HISTORY_LIMIT) -> list[ImportView]:
    """The newest imports that were started, whatever became of them."""
    return _views(session, ImportJob.status.in_(SHOWN), limit)


def report_preview(job_id: int, limit: int = 100) -> list[tuple[str, str, str]]:
    """(line, outcome, reason) of a report's first rows: what the page lists under the counts."""
    path = report_path_for(job_id)
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        return [(row[0], row[1], row[2]) for row in islice(reader, limit) if len(row) >= 3]


# Clean-up -------------------------------------------------------------------------------------


@dataclass
class ImportSweep:
    abandoned: list[int] = field(default_factory=list)
    files_deleted: int = 0
    requeued: list[int] = field(default_factory=list)
    stalled: list[int] = field(default_factory=list)
    reports_deleted: int = 0


def sweep_uploads(
    session: Session, now: datetime, report: ImportSweep | None = None
) -> ImportSweep:
    """Delete uploads nobody started within UPLOAD_TTL, leftovers of ended imports, stray files."""
    report = report or ImportSweep()
    cutoff = now - UPLOAD_TTL
    stale = session.execute(
        select(ImportJob.id).where(
            ImportJob.status == ImportStatus.UPLOADED.value, ImportJob.created_at < cutoff
        )
    ).scalars()
    minutes = int(UPLOAD_TTL.total_seconds() // 60)
    for job_id in list(stale):
        if _abandon(session, job_id, f"Not started within {minutes} minutes.", before=cutoff):
            report.abandoned.append(job_id)
    # An ended import whose file is still listed (a delete that failed, rows from before 0600).
    leftovers = session.execute(
        select(ImportJob.id, ImportJob.stored_path).where(
            ImportJob.status.in_((*FINISHED, ImportStatus.ABANDONED.value)),
            ImportJob.stored_path.is_not(None),
        )
    ).all()
    for job_id, stored in leftovers:
        _delete_upload_file(stored)
        session.execute(update(_jobs).where(_jobs.c.id == job_id).values(stored_path=None))
        report.files_deleted += 1
    # Files no row points to (the app stopped between saving a file and recording it).
    listed = {
        str(Path(p).resolve())
        for p in session.execute(
            select(ImportJob.stored_path).where(ImportJob.stored_path.is_not(None))
        ).scalars()
    }
    for path in uploads_dir().iterdir():
        if str(path.resolve()) in listed or not path.is_file():
            continue
        if path.stat().st_mtime < cutoff.timestamp():
            path.unlink(missing_ok=True)
            report.files_deleted += 1
    session.flush()
    return report


def _rq_status(job_id: int) -> JobState | None:
    return jobs.queue().state(rq_job_id(job_id))


def sweep(session: Session, now: datetime | None = None) -> ImportSweep:
    """One pass of every import clean-up; the periodic tick runs it on one worker at a time."""
    now = now or utcnow()
    report = sweep_uploads(session, now)
    session.commit()
    lost = session.execute(
        select(ImportJob.id).where(
            ImportJob.status == ImportStatus.QUEUED.value,
            func.coalesce(ImportJob.started_at, ImportJob.created_at) < now - REQUEUE_AFTER,
        )
    ).scalars()
    for job_id in list(lost):
        status = _rq_status(job_id)
        if status is None:
            _enqueue(job_id)  # Redis lost it (restart, flush): run_job's claim makes this safe
            report.requeued.append(job_id)
            log.warning("import %s was queued without an RQ job; queued again", job_id)
        elif status in ENDED_BADLY:
            _fail(session, job_id, ImportStatus.QUEUED, "The worker could not start this import.")
            report.stalled.append(job_id)
    silent = session.execute(
        select(ImportJob.id).where(
            ImportJob.status == ImportStatus.RUNNING.value,
            _last_sign_of_life() < now - STALL_AFTER,
        )
    ).scalars()
    for job_id in list(silent):
        if _fail(
            session,
            job_id,
            ImportStatus.RUNNING,
            "The worker running this import stopped. The rows counted above are imported; "
            "upload the file again to import the rest (customers already in are matched, "
            "not duplicated).",
            before=now - STALL_AFTER,
        ):
            report.stalled.append(job_id)
    old_reports = session.execute(
        select(ImportJob.id).where(
            ImportJob.report_path.is_not(None), ImportJob.finished_at < now - REPORT_TTL
        )
    ).scalars()
    for job_id in list(old_reports):
        report_path_for(job_id).unlink(missing_ok=True)
        session.execute(update(_jobs).where(_jobs.c.id == job_id).values(report_path=None))
        report.reports_deleted += 1
    session.commit()
    return report


def _last_sign_of_life() -> ColumnElement[datetime]:
    """The worker's last progress write; rows from before that column use their older times."""
    return func.coalesce(ImportJob.progress_at, ImportJob.started_at, ImportJob.created_at)


def _fail(
    session: Session, job_id: int, current: str, message: str, before: datetime | None = None
) -> bool:
    """Mark an import failed if it is still in `current` (and silent since `before`)."""
    stored = session.execute(select(ImportJob.stored_path).where(ImportJob.id == job_id)).scalar()
    query = update(_jobs).where(_jobs.c.id == job_id, _jobs.c.status == current)
    if before is not None:
        query = query.where(_last_sign_of_life() < before)
    won = session.execute(
        query.values(
            status=ImportStatus.FAILED.value,
            message=message,
            stored_path=None,
            finished_at=utcnow(),
        )
    ).rowcount  # type: ignore[attr-defined]
    session.commit()
    if won:
        _delete_upload_file(stored)
        report = report_path_for(job_id)
        if report.is_file():
            session.execute(
                update(_jobs).where(_jobs.c.id == job_id).values(report_path=str(report))
            )
            session.commit()
    return bool(won)
