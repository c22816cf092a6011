"""`alembic upgrade head` on an empty database yields exactly the models' schema."""

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, inspect, text
from sqlmodel import Session, SQLModel

from marketing_ui.cli import migrate
from marketing_ui.core.clock import utcnow
from marketing_ui.core.coupons import (
    find_by_short_code,
    find_by_token,
    secrets_for_deliveries,
    short_code_hash,
)
from marketing_ui.core.db import make_engine
from marketing_ui.core.models import Campaign, Customer, Delivery
from marketing_ui.core.qr import format_short_code
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


def _coupon_on_old_schema(url: str) -> tuple[str, str]:
    """A coupon stored as the first schema stored it (token and code in two ciphertexts)."""
    from alembic import command

    from marketing_ui.cli import _alembic_config
    from marketing_ui.core.crypto import associated_data, cipher, token_hash

    command.upgrade(_alembic_config(url), "a7511d1e0122")
    fc, uid, token, code = cipher(), "c" * 32, "tok_ABCDEFGHIJKLMNOPQRST", "ABCD2345"
    engine = make_engine(url)
    with engine.begin() as conn:  # rows as today's models build them, in the old tables' columns
        old = MetaData()
        old.reflect(conn, only=["campaign", "customer", "delivery"])
        for row in (
            Campaign(id=1, name="Old", has_qr_code=True, offer_text="Tea"),
            Customer(id=1, first_name="Ana"),
            Delivery(id=1, campaign_id=1, customer_id=1, channel="email"),
        ):
            table = old.tables[type(row).__tablename__]
            conn.execute(table.insert().values({c.name: getattr(row, c.name) for c in table.c}))
        conn.execute(
            text(
                "INSERT INTO coupon (campaign_id, delivery_id, customer_id, uid, token_hash,"
                " short_code_hash, token_enc, short_code_enc, status, created_at)"
                " VALUES (1, 1, 1, :uid, :th, :ch, :te, :ce, 'issued', :now)"
            ),
            {
                "uid": uid,
                "th": token_hash(token),
                "ch": short_code_hash(code),
                "te": fc.encrypt(token, associated_data("coupon", "token", uid)),
                "ce": fc.encrypt(code, associated_data("coupon", "short_code", uid)),
                "now": utcnow(),
            },
        )
    engine.dispose()
    return token, code


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_coupons_issued_before_the_secret_column_still_work(tmp_path: Path, backend: str) -> None:
    """Upgrading re-encrypts each coupon's token and code into one value; neither changes."""
    from alembic import command

    from marketing_ui.cli import _alembic_config

    url = f"sqlite:///{tmp_path / 'm.db'}" if backend == "sqlite" else create_pg_database()
    try:
        token, code = _coupon_on_old_schema(url)
        migrate(url)
        engine = make_engine(url)
        with Session(engine) as session:
            view = find_by_token(session, token)
            assert view is not None and view.short_code == format_short_code(code)
            assert find_by_short_code(session, code) == view
            assert secrets_for_deliveries(session, [1])[1].token == token
        engine.dispose()
        command.downgrade(_alembic_config(url), "a7511d1e0122")
        engine = make_engine(url)
        with engine.connect() as conn:
            assert "secret_enc" not in {c["name"] for c in inspect(conn).get_columns("coupon")}
        engine.dispose()
        migrate(url)  # and back up again: the downgrade restored both ciphertexts
        engine = make_engine(url)
        with Session(engine) as session:
            assert secrets_for_deliveries(session, [1])[1].short_code == format_short_code(code)
        engine.dispose()
    finally:
        if backend == "postgres":
            drop_pg_database(url)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_suppression_reasons_become_a_vocabulary_with_the_providers_words_kept(
    tmp_path: Path, backend: str
) -> None:
    """Rows the send worker stored with the provider's refusal as the reason become "invalid"."""
    from alembic import command

    from marketing_ui.cli import _alembic_config

    url = f"sqlite:///{tmp_path / 'm.db'}" if backend == "sqlite" else create_pg_database()
    try:
        command.upgrade(_alembic_config(url), "4221afcbfc99")
        engine = make_engine(url)
        refusal = "resend 422: Invalid `to` field"
        with engine.begin() as conn:
            for bidx, reason in (("a" * 64, "bounce"), ("b" * 64, "stop"), ("c" * 64, refusal)):
                conn.execute(
                    text(
                        "INSERT INTO suppression (channel, value_bidx, reason, created_at)"
                        " VALUES ('email', :bidx, :reason, :now)"
                    ),
                    {"bidx": bidx, "reason": reason, "now": utcnow()},
                )
        migrate(url)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT reason, detail FROM suppression ORDER BY value_bidx")
            ).all()
        assert [tuple(r) for r in rows] == [("bounce", ""), ("stop", ""), ("invalid", refusal)]
        command.downgrade(_alembic_config(url), "4221afcbfc99")
        with engine.connect() as conn:
            reasons = conn.execute(text("SELECT reason FROM suppression ORDER BY value_bidx"))
            assert list(reasons.scalars()) == ["bounce", "stop", refusal]
        engine.dispose()
    finally:
        if backend == "postgres":
            drop_pg_database(url)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_rollups_folded_before_human_engagement_count_every_old_event_as_a_persons(
    tmp_path: Path, backend: str
) -> None:
    """Old events were never flagged: their human rollup rows are copies; downgrade drops them."""
    from alembic import command

    from marketing_ui.cli import _alembic_config

    url = f"sqlite:///{tmp_path / 'm.db'}" if backend == "sqlite" else create_pg_database()
    try:
        command.upgrade(_alembic_config(url), "d2e3f4a5b6c7")
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO campaign_stat_hourly (campaign_id, channel, type, hour, total,"
                    " uniq) VALUES (1, 'email', 'opened', 10, 5, 2),"
                    " (1, 'email', 'clicked', 11, 3, 1), (1, 'email', 'bounced', 10, 1, 1)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO delivery_first_event (delivery_id, type, campaign_id, channel,"
                    " hour) VALUES (7, 'opened', 1, 'email', 10), (7, 'clicked', 1, 'email', 11)"
                )
            )
        engine.dispose()
        migrate(url)
        engine = make_engine(url)
        with engine.connect() as conn:
            hourly = conn.execute(
                text("SELECT type, hour, total, uniq FROM campaign_stat_hourly ORDER BY type")
            ).all()
            first = conn.execute(
                text("SELECT type, hour FROM delivery_first_event ORDER BY type")
            ).all()
        engine.dispose()
        assert [tuple(r) for r in hourly] == [
            ("bounced", 10, 1, 1),
            ("clicked", 11, 3, 1),
            ("clicked_human", 11, 3, 1),
            ("opened", 10, 5, 2),
            ("opened_human", 10, 5, 2),
        ]
        assert [tuple(r) for r in first] == [
            ("clicked", 11),
            ("clicked_human", 11),
            ("opened", 10),
            ("opened_human", 10),
        ]
        command.downgrade(_alembic_config(url), "d2e3f4a5b6c7")
        engine = make_engine(url)
        with engine.connect() as conn:
            assert "machine" not in {c["name"] for c in inspect(conn).get_columns("event")}
            types = conn.execute(text("SELECT DISTINCT type FROM campaign_stat_hourly")).scalars()
            assert set(types) == {"bounced", "clicked", "opened"}
        engine.dispose()
    finally:
        if backend == "postgres":
            drop_pg_database(url)
