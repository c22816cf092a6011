"""Fast generator of N realistic customers (encrypted contact data, blind indexes, tags, consent).

    python -m bench.seed_customers --n 1000000 --db sqlite:///bench/out/customers.db

Rows are built in Python (AES-GCM + HMAC per row, as the app does) and written in batches:
executemany on SQLite, COPY on PostgreSQL. Emails are person{i}@example.com, so a benchmark
can look any of them up by index.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from marketing_ui.core import models  # noqa: F401 - registers the tables
from marketing_ui.core.crypto import associated_data, blind_indexer, cipher
from marketing_ui.core.db import make_engine
from marketing_ui.core.models import Customer, CustomerTag, Tag

FIRST = (
    "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Chris Nancy Daniel Lisa Matthew "
    "Betty Anthony Margaret Mark Sandra Donald Ashley Steven Kim Paul Emily Andrew Donna Josh "
    "Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah Tim Stephanie Zoë José "
    "Léa Chloé Noah Liam Emma Olivia Ava Mia Lucas Hugo Inès Jules Aiko Ravi Priya Wei Mateo"
).split()
LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Dubois Müller "
    "Rossi Kowalski Novak Silva Santos Tanaka Sato Kim Park Chen Wang Singh Patel Cohen Murphy "
    "O'Brien Kelly Walsh Byrne Ryan Larsen Hansen Berg Lindqvist Virtanen Horvat Popescu Ivanov"
).split()
TAG_NAMES = (
    "VIP",
    "Newsletter",
    "Lunch",
    "Dinner",
    "Brunch",
    "Vegetarian",
    "Vegan",
    "Gluten free",
    "Birthday club",
    "Wine club",
    "Catering",
    "Walk-in",
    "Online order",
    "Delivery",
    "Takeaway",
    "Family",
    "Student",
    "Staff friend",
    "Spring fair",
    "Lapsed",
)
COLUMNS = (
    "id",
    "uid",
    "first_name",
    "last_name",
    "email_enc",
    "phone_enc",
    "email_bidx",
    "phone_bidx",
    "email_consent",
    "sms_consent",
    "created_at",
    "updated_at",
    "last_activity_at",
)


def email_of(i: int) -> str:
    return f"person{i}@example.com"


def phone_of(i: int) -> str:
    return f"+447{700000000 + i}"  # UK mobile range, unique per i


def ensure_tags(engine: Engine) -> list[int]:
    with engine.begin() as conn:
        have = dict(conn.execute(select(Tag.name, Tag.id)).all())
        missing = [n for n in TAG_NAMES if n not in have]
        if missing:
            conn.execute(
                insert(Tag.__table__),
                [{"name": n, "color": "gray", "created_at": datetime.now(UTC)} for n in missing],
            )
        have = dict(conn.execute(select(Tag.name, Tag.id)).all())
    return [have[n] for n in TAG_NAMES]


def _rows(
    start_id: int, count: int, tag_ids: list[int], rng: random.Random
) -> Iterator[tuple[tuple, list[tuple[int, int]]]]:
    fc = cipher()
    bidx = blind_indexer()
    now = datetime.now(UTC)
    span = 3 * 365 * 86400
    weights = [1.0 / (k + 1) for k in range(len(tag_ids))]  # a few popular tags, a long tail
    for i in range(start_id, start_id + count):
        uid = f"{rng.getrandbits(128):032x}"
        email, phone = email_of(i), phone_of(i)
        has_phone = i % 3 != 0
        created = now - timedelta(seconds=rng.randrange(span))
        active = created + timedelta(
            seconds=rng.randrange(int((now - created).total_seconds()) + 1)
        )
        row = (
            i,
            uid,
            rng.choice(FIRST),
            rng.choice(LAST),
            fc.encrypt(email, associated_data("customer", "email", uid)),
            fc.encrypt(phone, associated_data("customer", "phone", uid)) if has_phone else None,
            bidx.email(email),
            bidx.phone(phone) if has_phone else None,
            rng.random() < 0.6,
            has_phone and rng.random() < 0.35,
            created,
            created,
            active if rng.random() < 0.5 else None,
        )
        n_tags = rng.choice((0, 1, 1, 2, 2, 3))
        links = {(i, t) for t in rng.choices(tag_ids, weights=weights, k=n_tags)}
        yield row, sorted(links)


def seed(engine: Engine, n: int, batch: int = 20_000, rng_seed: int = 7) -> float:
    """Append `n` customers (ids after the current maximum); returns seconds taken."""
    started = time.perf_counter()
    SQLModel.metadata.create_all(engine)
    tag_ids = ensure_tags(engine)
    rng = random.Random(rng_seed)
    with engine.connect() as conn:
        first_id = (conn.execute(select(func.max(Customer.id))).scalar() or 0) + 1
    done = 0
    while done < n:
        size = min(batch, n - done)
        rows, links = [], []
        for row, row_links in _rows(first_id + done, size, tag_ids, rng):
            rows.append(row)
            links.extend(row_links)
        if engine.dialect.name == "postgresql":
            _copy(engine, rows, links)
        else:
            with engine.begin() as conn:
                conn.execute(
                    insert(Customer.__table__), [dict(zip(COLUMNS, r, strict=True)) for r in rows]
                )
                conn.execute(
                    insert(CustomerTag.__table__),
                    [{"customer_id": c, "tag_id": t} for c, t in links],
                )
        done += size
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("SELECT setval('customer_id_seq', (SELECT max(id) FROM customer))"))
            conn.execute(text("ANALYZE customer"))
            conn.execute(text("ANALYZE customer_tag"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def _copy(engine: Engine, rows: list[tuple], links: list[tuple[int, int]]) -> None:
    raw = engine.raw_connection()
    try:
        pg = raw.driver_connection
        with pg.cursor() as cur:  # type: ignore[union-attr]
            with cur.copy(f"COPY customer ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            with cur.copy("COPY customer_tag (customer_id, tag_id) FROM STDIN") as copy:
                for link in links:
                    copy.write_row(link)
        raw.commit()
    finally:
        raw.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--db", required=True, help="SQLAlchemy URL")
    args = parser.parse_args()
    engine = make_engine(args.db)
    seconds = seed(engine, args.n)
    print(f"seeded {args.n} customers in {seconds:.1f} s ({args.n / seconds:,.0f}/s)")


if __name__ == "__main__":
    main()
