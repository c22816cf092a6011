"""Engine and sessions; SQLite gets WAL and a busy timeout so workers and the app can share it."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import ColumnElement, Float, Table, event, func, literal_column, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from marketing_ui.core.config import get_settings


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DB-API connection
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA cache_size=-65536")  # 64 MB: random-key index inserts stay in memory
    cur.close()


def make_engine(url: str) -> Engine:
    """A new engine for `url`; SQLite files get their folder created and pragmas set."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(url: str | None = None) -> Engine:
    """The shared engine for `url` (default: the configured database)."""
    # Keyed by the resolved URL, so a reader racing a settings change can never file an
    # engine for the old database under the new one's key.
    url = url or get_settings().database_url
    engine = _engines.get(url)
    if engine is None:
        with _engines_lock:
            engine = _engines.get(url)
            if engine is None:
                engine = _engines[url] = make_engine(url)
    return engine


def reset_engine_cache() -> None:
    """Dispose every shared engine (tests point the app at another database)."""
    with _engines_lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.dispose()


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def take_turns(session: Session, *names: str) -> None:
    """Until this transaction ends, others taking turns on any of `names` wait for it.

    PostgreSQL: transaction-scoped advisory locks, taken in sorted order (no deadlock between two
    callers naming the same pair); a later statement runs with a fresh snapshot and sees what the
    other committed. SQLite: nothing to do, a writing transaction already holds the database's
    one write lock from its first write.
    """
    if _dialect_name(session) != "postgresql":
        return
    for name in sorted(set(names)):
        key = zlib.crc32(name.encode())
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def random_fraction(bind: Session | Engine | str) -> ColumnElement[float]:
    """A uniform random number in [0, 1), drawn by the database for each row it is evaluated on.

    PostgreSQL: random(). SQLite: random() is a 64-bit integer; its remainder is folded into
    0..999,999 without abs() (abs of the smallest integer is an overflow error in SQLite).
    Evaluate it once per row (an UPDATE's WHERE): SQLite re-evaluates it for each place a
    subquery's column is used.
    """
    if _dialect_name(bind) == "postgresql":
        return func.random(type_=Float)
    # Plain text, no bound parameters: two uses render identically, so SQLite computes a window
    # function over it (the A/B deal: row_number() OVER (ORDER BY this)) once, not per use.
    return literal_column("(((random() % 1000000) + 1000000) % 1000000 / 1e6)", type_=Float)


def insert_ignore(bind: Session | Engine | str, table: Table):  # noqa: ANN201 - dialect Insert
    """INSERT … ON CONFLICT DO NOTHING for the database in use (SQLite or PostgreSQL).

    `bind` is a session, an engine or a dialect name.
    """
    return _insert_builder(bind)(table).on_conflict_do_nothing()


def _dialect_name(bind: Session | Engine | str) -> str:
    if isinstance(bind, Session):
        return bind.get_bind().dialect.name
    return bind if isinstance(bind, str) else bind.dialect.name


def _insert_builder(bind: Session | Engine | str):  # noqa: ANN202 - a dialect's insert()
    return postgresql.insert if _dialect_name(bind) == "postgresql" else sqlite.insert


def upsert(bind: Session | Engine | str, table: Table, keys: list[str], update: list[str]):  # noqa: ANN201
    """INSERT … ON CONFLICT (keys) DO UPDATE SET each `update` column to the inserted value.

    One statement, so concurrent writers of one key end with one row (SQLite and PostgreSQL).
    """
    stmt = _insert_builder(bind)(table)
    return stmt.on_conflict_do_update(
        index_elements=keys, set_={column: stmt.excluded[column] for column in update}
    )
