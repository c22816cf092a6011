"""Customer export download: the admin who asked gets a streamed CSV; nobody else gets anything."""

from __future__ import annotations

import uuid

import pytest
import redis
from sqlmodel import SQLModel
from starlette.testclient import TestClient

import marketing_ui.api.customer_export  # noqa: F401  (registers the route)
from marketing_ui.api.app import build_api
from marketing_ui.api.customer_export import export_path
from marketing_ui.core import auth
from marketing_ui.core.customer_export import ExportScope, issue_ticket
from marketing_ui.core.customers import CustomerFilter, CustomerInput, create_customer
from marketing_ui.core.db import get_engine, session_scope
from marketing_ui.core.segments import create_segment, delete_segment


@pytest.fixture(autouse=True)
def _tables() -> None:
    SQLModel.metadata.create_all(get_engine())


def _user(redis_client: redis.Redis, role: str) -> tuple[int, str]:
    name = f"{role}-{uuid.uuid4().hex[:8]}"
    with session_scope() as session:
        user_id = int(auth.create_user(session, name, "long-enough-pass", role=role).id)  # type: ignore[arg-type]
    with session_scope() as session:
        return user_id, auth.login(session, redis_client, name, "long-enough-pass", "127.0.0.1")


def _get(path: str, token: str = ""):  # noqa: ANN202 - an httpx Response
    cookies = {"mk_session": token} if token else {}
    with TestClient(build_api(), cookies=cookies) as client:
        return client.get(path)


def test_admin_downloads_the_filtered_customers_once(redis_client: redis.Redis) -> None:
    run = uuid.uuid4().hex[:8]
    with session_scope() as session:
        create_customer(session, CustomerInput("=cmd", f"Export{run}", f"a.{run}@example.com"))
        create_customer(session, CustomerInput("Other", "Person", f"b.{run}@example.com"))
    admin_id, admin = _user(redis_client, "admin")
    ticket = issue_ticket(ExportScope(filter=CustomerFilter(search=f"Export{run}")), admin_id)
    assert f"a.{run}" not in export_path(ticket)  # the search never travels in the URL

    response = _get(export_path(ticket), admin)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="customers-')
    assert response.headers["cache-control"] == "no-store"
    lines = response.content.decode("utf-8-sig").splitlines()
    assert (
        lines[0]
        == "First name,Last name,Email,Phone,Birthday,Email consent,SMS consent,Tags,Created (UTC)"
    )
    assert len(lines) == 2 and lines[1].startswith(
        f"'=cmd,Export{run},a.{run}@example.com,,,no,no,,"
    )
    assert _get(export_path(ticket), admin).status_code == 404  # single use


def test_strangers_staff_and_other_admins_are_refused(redis_client: redis.Redis) -> None:
    admin_id, admin = _user(redis_client, "admin")
    _, other_admin = _user(redis_client, "admin")
    _, staff = _user(redis_client, "staff")
    path = export_path(issue_ticket(ExportScope(), admin_id))
    assert _get(path).status_code == 401
    assert _get(path, "forged-token").status_code == 401
    assert _get(path, staff).status_code == 403
    assert _get(path, other_admin).status_code == 404  # a ticket is bound to its admin
    assert _get(export_path("x" * 32), admin).status_code == 404
    assert _get("/api/customers/export/..%2F..%2Fetc.csv", admin).status_code == 404


def test_a_segment_deleted_after_the_ticket_is_a_clear_404(redis_client: redis.Redis) -> None:
    admin_id, admin = _user(redis_client, "admin")
    with session_scope() as session:
        segment = create_segment(
            session,
            f"Gone {uuid.uuid4().hex[:6]}",
            {"type": "consent", "channel": "sms", "value": True},
        )
        segment_id = int(segment.id)  # type: ignore[arg-type]
    path = export_path(issue_ticket(ExportScope(segment_id=segment_id), admin_id))
    with session_scope() as session:
        delete_segment(session, segment_id)
    response = _get(path, admin)
    assert (response.status_code, response.text) == (404, "That segment no longer exists.")
