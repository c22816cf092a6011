"""Shared fixtures: isolated settings, real SQLite and PostgreSQL databases, real Redis."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Isolate every test run from the developer's data/ folder before anything reads settings.
_RUN_DIR = Path(tempfile.mkdtemp(prefix="mk-tests-"))
os.environ["APP_ENV"] = "development"
os.environ["DATA_DIR"] = str(_RUN_DIR)
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ["DATABASE_URL"] = f"sqlite:///{_RUN_DIR / 'app.db'}"
os.environ["QUEUE_PREFIX"] = f"test{uuid.uuid4().hex[:8]}"  # never share queues with a dev app

import redis  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session, SQLModel  # noqa: E402

from marketing_ui.core import models  # noqa: E402,F401  (registers the tables)
from marketing_ui.core.config import reset_settings_cache  # noqa: E402
from marketing_ui.core.db import make_engine  # noqa: E402
from marketing_ui.infra import rq_jobs  # noqa: E402

rq_jobs.install()  # as every process entry point does

PG_ADMIN_URL = os.environ.get(
    "TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_SERVERS = os.environ.get("CI", "").lower() in {"1", "true"} or bool(
    os.environ.get("REQUIRE_SERVERS")
)


def _pg_available() -> str | None:
    try:
        engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "no server"
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}"


def create_pg_database() -> str:
    """A fresh, uniquely named PostgreSQL database; returns its URL."""
    reason = _pg_available()
    if reason:
        if REQUIRE_SERVERS:
            pytest.fail(reason + " (CI requires it)")
        pytest.skip(reason)
    name = f"mk_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


LONG_SESSION = "tests/browser/test_long_session.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long-session test waits for a background session: it goes last."""
    waiting = [item for item in items if item.nodeid.startswith(LONG_SESSION)]
    for item in waiting:
        items.remove(item)
    items.extend(waiting)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the ten-minute browser session now, so it runs beside every other test."""
    if not any(item.nodeid.startswith(LONG_SESSION) for item in session.items):
        return
    import subprocess
    import sys

    minutes = float(os.environ.get("LONG_SESSION_MINUTES", "10"))
    report = _RUN_DIR / "long-session.json"
    log = open(_RUN_DIR / "long-session.log", "wb")  # noqa: SIM115 - lives as long as the run
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.browser.long_session", "--minutes", str(minutes),
         "--report", str(report)],
        cwd=Path(__file__).resolve().parents[1],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    session.config.long_session = (proc, report, minutes)  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session) -> None:
    started = getattr(session.config, "long_session", None)
    if started is not None and started[0].poll() is None:
        started[0].terminate()  # the run stopped early (-x): do not leave it behind


@pytest.fixture(scope="session", autouse=True)
def _migrated_default_db() -> None:
    """The run's default database (DATABASE_URL) is built by the real migrations, once."""
    from marketing_ui.cli import migrate

    reset_settings_cache()
    migrate()


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    reset_settings_cache()
    yield
    reset_settings_cache()


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database with every table, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
        SQLModel.metadata.create_all(eng)
        yield eng
        eng.dispose()
        return
    url = create_pg_database()
    eng = make_engine(url)
    SQLModel.metadata.create_all(eng)
    yield eng
    eng.dispose()
    drop_pg_database(url)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    SQLModel.metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """Real Redis; tests must use keys under `test:{uuid}:` (given as .prefix) and clean up."""
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        client.ping()
    except redis.ConnectionError as exc:
        if REQUIRE_SERVERS:
            pytest.fail(f"Redis not reachable at {os.environ['REDIS_URL']}: {exc}")
        pytest.skip(f"Redis not reachable: {exc}")
    prefix = f"test:{uuid.uuid4().hex[:10]}:"
    client.prefix = prefix  # type: ignore[attr-defined]
    yield client
    for key in client.scan_iter(match=prefix + "*", count=1000):
        client.delete(key)
    client.close()
