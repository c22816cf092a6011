"""An import's life on SQLite and PostgreSQL with real Redis: upload, start, run, history, clean-up."""

from __future__ import annotations

import csv
import io
import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from rq.job import Job
from sqlalchemy.engine import Engine
from sqlmodel import Session

from marketing_ui.core import auth
from marketing_ui.core.clock import utcnow
from marketing_ui.core.config import get_settings, reset_settings_cache
from marketing_ui.core.customers import list_customers
from marketing_ui.core.import_jobs import (
    MAX_UPLOAD_BYTES,
    REPORT_TTL,
    STALL_AFTER,
    UPLOAD_TTL,
    ImportOptions,
    UploadError,
    active_import,
    check_phones,
    discard_upload,
    import_history,
    import_view,
    report_preview,
    rq_job_id,
    run_job,
    start_import,
    store_upload,
    sweep,
    uploads_dir,
)
from marketing_ui.core.importer import report_path_for
from marketing_ui.core.jobs import IMPORTS
from marketing_ui.core.models import ImportJob, ImportStatus, InvalidPhone
from marketing_ui.core.redis_client import get_redis
from marketing_ui.infra.rq_jobs import get_queue

CSV = (
    "First name,Email,Phone\n"
    "Ann,ann@example.com,+1 202 555 0143\n"
    "Amélie,amelie@example.com,01 23 45 67 89\n"  # French number: no parse in the US
    "Luc,,01 23 45 67 90\n"  # ... and no email to fall back on
    '"=HYPERLINK(""http://evil.example"")",not-an-email,\n'
).encode()
MAPPING = {"first_name": "First name", "email": "Email", "phone": "Phone"}


@pytest.fixture(autouse=True)
def _own_import_queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A queue of this test's own, empty at both ends: no worker of the run takes its jobs."""
    monkeypatch.setenv("QUEUE_PREFIX", f"test{uuid.uuid4().hex[:8]}")
    reset_settings_cache()
    queue = get_queue(IMPORTS)
    queue.empty()  # also deletes the jobs' hashes
    yield
    queue.empty()


@pytest.fixture
def admin_id(session: Session) -> int:
    user = auth.create_user(session, "importer", "long-enough-pass")
    session.commit()
    return int(user.id)  # type: ignore[arg-type]


def _upload(session: Session, data: bytes = CSV, name: str = "people.csv", user: int | None = None):  # noqa: ANN202
    upload = store_upload(session, io.BytesIO(data), name, user)
    session.commit()
    return upload


def _stored(session: Session, job_id: int) -> str | None:
    session.expire_all()
    job = session.get(ImportJob, job_id)
    assert job is not None
    return job.stored_path


def _age(engine: Engine, job_id: int, **columns: timedelta) -> None:
    """Move a row's timestamps into the past, as if that much time had gone by."""
    now = utcnow()
    with Session(engine) as s:
        s.execute(
            sa.update(ImportJob)
            .where(ImportJob.id == job_id)
            .values({name: now - delta for name, delta in columns.items()})
        )
        s.commit()


def test_an_upload_is_kept_privately_outside_the_public_upload_folder(
    session: Session, admin_id: int
) -> None:
    import reflex as rx

    upload = _upload(session, user=admin_id)
    assert (upload.filename, upload.rows, upload.headers) == (
        "people.csv",
        4,
        ["First name", "Email", "Phone"],
    )
    assert upload.guessed == MAPPING
    assert upload.preview[0] == ["Ann", "ann@example.com", "+1 202 555 0143"]
    stored = Path(_stored(session, upload.job_id) or "")
    assert stored.parent == uploads_dir()
    assert stored.is_relative_to(get_settings().data_dir)
    assert not stored.resolve().is_relative_to(Path(rx.get_upload_dir()).resolve())
    assert stored.stat().st_mode & 0o777 == 0o600
    assert uploads_dir().stat().st_mode & 0o777 == 0o700
    assert stored.read_bytes() == CSV
    # An upload is not an import yet: the history lists only imports that were started.
    assert import_history(session) == [] and active_import(session) is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "photo.csv: This is not a CSV text file"),
        (b"", "photo.csv: The file is empty."),
        (b"Email,Phone\n", "photo.csv: The file has a header line but no customer rows"),
    ],
)
def test_an_unreadable_upload_is_refused_with_its_name_and_leaves_nothing(
    session: Session, data: bytes, message: str
) -> None:
    before = set(uploads_dir().iterdir())
    with pytest.raises(UploadError, match=message):
        _upload(session, data, "photo.csv")
    assert set(uploads_dir().iterdir()) == before
    assert session.execute(sa.select(sa.func.count()).select_from(ImportJob)).scalar_one() == 0


class _Endless(io.RawIOBase):
    """A stream of `size` bytes of CSV-looking text, produced as it is read."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return b"a" * n


def test_an_upload_over_the_size_limit_is_refused_and_deleted(session: Session) -> None:
    before = set(uploads_dir().iterdir())
    with pytest.raises(UploadError, match="big.csv is larger than 50 MB"):
        store_upload(session, _Endless(MAX_UPLOAD_BYTES + 1), "big.csv", None)  # type: ignore[arg-type]
    assert set(uploads_dir().iterdir()) == before


def test_phone_check_counts_what_the_region_choice_changes(session: Session) -> None:
    upload = _upload(session)
    us = check_phones(session, upload.job_id, MAPPING, "US")
    assert (us.rows_checked, us.unparseable, us.with_email, us.without_email) == (4, 2, 1, 1)
    fr = check_phones(session, upload.job_id, MAPPING, "FR")
    assert (fr.rows_checked, fr.unparseable) == (4, 0)  # Ann's number carries its +1
    assert check_phones(session, upload.job_id, {"email": "Email"}, "US").unparseable == 0
    with pytest.raises(ValueError, match="not a country code"):
        check_phones(session, upload.job_id, MAPPING, "ZZ")


def test_start_run_and_history_end_to_end(engine: Engine, session: Session, admin_id: int) -> None:
    upload = _upload(session, user=admin_id)
    stored = Path(_stored(session, upload.job_id) or "")
    options = ImportOptions(
        MAPPING, "add_only", ["Fair"], region="US", invalid_phone=InvalidPhone.DROP_PHONE
    )
    start_import(session, upload.job_id, options)
    with pytest.raises(UploadError, match="no longer waiting"):
        start_import(session, upload.job_id, options)  # a double click queues nothing twice
    queued = import_view(session, upload.job_id)
    assert queued is not None and queued.status == "queued" and queued.username == "importer"
    assert active_import(session) == queued
    assert get_queue(IMPORTS).get_job_ids() == [rq_job_id(upload.job_id)]

    assert run_job(upload.job_id, engine=engine) == "done"
    assert run_job(upload.job_id, engine=engine) == "not queued"  # a duplicate RQ job
    session.expire_all()
    done = import_view(session, upload.job_id)
    assert done is not None
    assert (done.status, done.rows_total, done.created, done.phones_dropped, done.errors) == (
        "done",
        4,
        2,
        1,
        2,
    )
    assert done.has_report and done.finished_at is not None
    assert active_import(session) is None
    assert [v.id for v in import_history(session)] == [upload.job_id]
    # The uploaded file is gone once the import ended; the report stays for download.
    assert not stored.exists() and _stored(session, upload.job_id) is None
    assert [line for line, _, _ in report_preview(upload.job_id)] == ["3", "4", "5"]
    assert [outcome for _, outcome, _ in report_preview(upload.job_id)] == [
        "imported",
        "rejected",
        "rejected",
    ]
    with report_path_for(upload.job_id).open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[-1]["First name"] == '\'=HYPERLINK("http://evil.example")'
    assert {r.email for r in list_customers(session).rows} == {
        "ann@example.com",
        "amelie@example.com",
    }


def test_a_failed_import_says_why_and_deletes_its_upload(engine: Engine, session: Session) -> None:
    upload = _upload(session)
    stored = Path(_stored(session, upload.job_id) or "")
    start_import(session, upload.job_id, ImportOptions(MAPPING))
    stored.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))  # the file broke after the check
    assert run_job(upload.job_id, engine=engine) == "failed"
    session.expire_all()
    failed = import_view(session, upload.job_id)
    assert failed is not None and failed.status == "failed"
    assert "This is not a CSV text file" in failed.message
    assert not stored.exists() and _stored(session, upload.job_id) is None


def test_bad_options_are_refused_before_anything_is_queued(session: Session) -> None:
    upload = _upload(session)
    for options, message in (
        (ImportOptions({"first_name": "First name"}), "email or phone"),
        (ImportOptions({**MAPPING, "email": "Nope"}), "no column named 'Nope'"),
        (ImportOptions(MAPPING, mode="replace_all"), "existing customers"),
        (ImportOptions(MAPPING, region="Mars"), "not a country code"),
        (ImportOptions(MAPPING, invalid_phone="guess"), "phone number does not parse"),
        (ImportOptions(MAPPING, tags=["x" * 81]), "at most 80 characters"),
        (ImportOptions(MAPPING, tags=[f"t{i}" for i in range(21)]), "at most 20 tags"),
    ):
        with pytest.raises(ValueError, match=message):
            start_import(session, upload.job_id, options)
    assert import_view(session, upload.job_id).status == "uploaded"  # type: ignore[union-attr]
    assert get_queue(IMPORTS).count == 0


def test_discarding_an_upload_deletes_it_once(session: Session) -> None:
    upload = _upload(session)
    stored = Path(_stored(session, upload.job_id) or "")
    assert discard_upload(session, upload.job_id) is True
    assert discard_upload(session, upload.job_id) is False
    session.commit()
    assert not stored.exists()
    with pytest.raises(UploadError, match="no longer waiting"):
        start_import(session, upload.job_id, ImportOptions(MAPPING))


def test_sweep_deletes_abandoned_uploads_leftovers_and_stray_files(
    engine: Engine, session: Session
) -> None:
    fresh, stale = _upload(session), _upload(session)
    fresh_path = Path(_stored(session, fresh.job_id) or "")
    stale_path = Path(_stored(session, stale.job_id) or "")
    _age(engine, stale.job_id, created_at=UPLOAD_TTL + timedelta(minutes=1))
    stray = uploads_dir() / "stray-from-a-crash.csv"
    stray.write_bytes(b"email\nx@example.com\n")
    old = (utcnow() - UPLOAD_TTL - timedelta(minutes=1)).timestamp()
    os.utime(stray, (old, old))
    young_stray = uploads_dir() / "being-written-now.csv"
    young_stray.write_bytes(b"email\n")

    report = sweep(session)
    assert report.abandoned == [stale.job_id]
    assert not stale_path.exists() and not stray.exists()
    assert fresh_path.exists() and young_stray.exists()  # within the hour: kept
    assert import_view(session, stale.job_id).status == "abandoned"  # type: ignore[union-attr]
    with pytest.raises(UploadError, match="no longer waiting"):
        start_import(session, stale.job_id, ImportOptions(MAPPING))
    young_stray.unlink()


def test_sweep_requeues_an_import_redis_lost_and_fails_one_whose_worker_died(
    engine: Engine, session: Session
) -> None:
    lost, dead = _upload(session), _upload(session)
    for upload in (lost, dead):
        start_import(session, upload.job_id, ImportOptions(MAPPING))
    get_queue(IMPORTS).empty()  # Redis restarted: both RQ jobs are gone (empty() deletes them)
    assert not Job.exists(rq_job_id(lost.job_id), connection=get_redis())
    _age(engine, lost.job_id, started_at=timedelta(minutes=3))
    dead_path = Path(_stored(session, dead.job_id) or "")
    with Session(engine) as s:  # a worker claimed it, then was killed
        s.execute(
            sa.update(ImportJob)
            .where(ImportJob.id == dead.job_id)
            .values(status=ImportStatus.RUNNING.value)
        )
        s.commit()
    _age(engine, dead.job_id, progress_at=STALL_AFTER + timedelta(minutes=1))

    report = sweep(session)
    assert report.requeued == [lost.job_id]
    assert get_queue(IMPORTS).get_job_ids() == [rq_job_id(lost.job_id)]
    assert report.stalled == [dead.job_id]
    session.expire_all()
    failed = import_view(session, dead.job_id)
    assert failed is not None and failed.status == "failed"
    assert "worker running this import stopped" in failed.message
    assert not dead_path.exists()
    assert sweep(session).requeued == []  # its RQ job exists again: nothing more to do
    assert run_job(lost.job_id, engine=engine) == "done"


def test_sweep_deletes_reports_after_their_time(engine: Engine, session: Session) -> None:
    upload = _upload(session)
    start_import(session, upload.job_id, ImportOptions(MAPPING))
    assert run_job(upload.job_id, engine=engine) == "done"
    assert report_path_for(upload.job_id).is_file()
    assert sweep(session).reports_deleted == 0
    _age(engine, upload.job_id, finished_at=REPORT_TTL + timedelta(days=1))
    assert sweep(session).reports_deleted == 1
    assert not report_path_for(upload.job_id).exists()
    session.expire_all()
    assert import_view(session, upload.job_id).has_report is False  # type: ignore[union-attr]


def test_the_worker_tick_runs_the_import_sweep() -> None:
    """workers/scheduler.tick (one worker at a time, every few seconds) is what cleans up."""
    from marketing_ui.core.db import get_engine, session_scope
    from workers.scheduler import tick

    with session_scope() as s:
        upload = store_upload(s, io.BytesIO(CSV), "left.csv", None)
    stored = Path(_stored(Session(get_engine()), upload.job_id) or "")
    _age(get_engine(), upload.job_id, created_at=UPLOAD_TTL + timedelta(seconds=1))
    tick()
    with session_scope() as s:
        assert import_view(s, upload.job_id).status == "abandoned"  # type: ignore[union-attr]
    assert not stored.exists()


def test_sweep_ends_imports_stuck_by_the_old_page(engine: Engine, session: Session) -> None:
    """Rows left "queued"/"running" before the job kept timestamps no longer wait forever."""
    with Session(engine) as s:
        stuck = [
            ImportJob(filename="old.csv", stored_path=None, status=status, mapping_json="{}")
            for status in ("queued", "running")
        ]
        s.add_all(stuck)
        s.commit()
        queued_id, running_id = (int(j.id) for j in stuck)  # type: ignore[arg-type]
    _age(engine, queued_id, created_at=timedelta(days=2))
    _age(engine, running_id, created_at=timedelta(days=2))
    report = sweep(session)
    assert report.requeued == [queued_id] and report.stalled == [running_id]
    assert run_job(queued_id, engine=engine) == "failed"  # its file is long gone: says so
    session.expire_all()
    assert "uploaded file is gone" in import_view(session, queued_id).message  # type: ignore[union-attr]
    assert active_import(session) is None
