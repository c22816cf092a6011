"""Import error report download: the admin who imported gets the CSV; nobody else gets anything."""

from __future__ import annotations

import uuid

import pytest
import redis
from sqlmodel import SQLModel
from starlette.testclient import TestClient

import marketing_ui.api.import_reports  # noqa: F401  (registers the route)
from marketing_ui.api.app import build_api
from marketing_ui.core import auth
from marketing_ui.core.db import get_engine, session_scope
from marketing_ui.core.importer import RowError, report_path_for, write_error_report
from marketing_ui.core.models import ImportJob


@pytest.fixture(autouse=True)
def _tables() -> None:
    SQLModel.metadata.create_all(get_engine())


def _token(redis_client: redis.Redis, role: str) -> str:
    name = f"{role}-{uuid.uuid4().hex[:8]}"
    with session_scope() as session:
        auth.create_user(session, name, "long-enough-pass", role=role)
    with session_scope() as session:
        return auth.login(session, redis_client, name, "long-enough-pass", "127.0.0.1")


def _job(report: bool = True, report_path: str | None = None) -> int:
    with session_scope() as session:
        job = ImportJob(filename="x.csv", stored_path="/nonexistent.csv", status="done")
        session.add(job)
        session.flush()
        job_id = int(job.id)  # type: ignore[arg-type]
        if report:
            path = write_error_report(
                [RowError(3, "invalid email: no @", {"Email": "=HYPERLINK(1)"})],
                report_path_for(job_id),
            )
            job.report_path = report_path or str(path)
    return job_id


def _get(path: str, token: str = ""):  # noqa: ANN202 - an httpx Response
    cookies = {"mk_session": token} if token else {}
    with TestClient(build_api(), cookies=cookies) as client:
        return client.get(path)


def test_admin_downloads_the_report_csv(redis_client: redis.Redis) -> None:
    job_id = _job()
    response = _get(f"/api/imports/{job_id}/report.csv", _token(redis_client, "admin"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f"import-{job_id}-errors.csv" in response.headers["content-disposition"]
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "line,outcome,reason,Email"
    assert lines[1] == "3,rejected,invalid email: no @,'=HYPERLINK(1)"  # never run by Excel


def test_strangers_and_staff_are_refused(redis_client: redis.Redis) -> None:
    job_id = _job()
    assert _get(f"/api/imports/{job_id}/report.csv").status_code == 401
    assert _get(f"/api/imports/{job_id}/report.csv", "forged-token").status_code == 401
    staff = _token(redis_client, "staff")
    assert _get(f"/api/imports/{job_id}/report.csv", staff).status_code == 403


def test_missing_or_foreign_reports_are_404(redis_client: redis.Redis, tmp_path) -> None:  # noqa: ANN001
    admin = _token(redis_client, "admin")
    assert _get(f"/api/imports/{_job(report=False)}/report.csv", admin).status_code == 404
    assert _get("/api/imports/999999/report.csv", admin).status_code == 404
    assert _get(f"/api/imports/{2**70}/report.csv", admin).status_code == 404
    assert _get("/api/imports/abc/report.csv", admin).status_code == 404
    # A row pointing elsewhere (a tampered DB) never turns the endpoint into a file server.
    secret = tmp_path / "secret.csv"
    secret.write_text("do not serve")
    assert (
        _get(f"/api/imports/{_job(report_path=str(secret))}/report.csv", admin).status_code == 404
    )
