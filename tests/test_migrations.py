"""`alembic upgrade head` on an empty database yields exactly the models' schema."""

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from marketing_ui.cli import migrate
from marketing_ui.core.db import make_engine
from tests.conftest import create_pg_database, drop_pg_database


def _diff(url: str) -> list:
    migrate(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, SQLModel.metadata)
        tables = set(inspect(conn).get_table_names())
    engine.dispose()
    assert set(SQLModel.metadata.tables) <= tables
    return diff


def test_sqlite_migration_matches_models(tmp_path: Path) -> None:
    assert _diff(f"sqlite:///{tmp_path / 'm.db'}") == []


@pytest.mark.postgres
def test_postgres_migration_matches_models() -> None:
    url = create_pg_database()
    try:
        assert _diff(url) == []
    finally:
        drop_pg_database(url)
