"""Customers and segments at scale, on SQLite and PostgreSQL, each figure next to the naive way.

    python -m bench.customers [--quick] [--n N] [--no-pg]

Seeds N customers (quick: 50,000; default 1,000,000) into a SQLite file under bench/out/
and a fresh PostgreSQL database (dropped afterwards), then measures listing pages (keyset
vs OFFSET), a 3-rule segment count (SQL vs Python filtering), exact email lookup (blind
index vs decrypt-and-scan) and a 100,000-row CSV import. Writes bench/results/customers.json
and the "## Customers and segments" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
os.environ.setdefault("DATA_DIR", str(OUT / "data"))  # keys for the bench, never the app's

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bench.report import machine, write_results  # noqa: E402
from bench.seed_customers import email_of, phone_of, seed  # noqa: E402
from marketing_ui.core.crypto import associated_data, cipher  # noqa: E402
from marketing_ui.core.customers import (  # noqa: E402
    CustomerFilter,
    encode_cursor,
    list_customers,
    row_select,
    rows_from_select,
)
from marketing_ui.core.db import make_engine  # noqa: E402
from marketing_ui.core.importer import run_import  # noqa: E402
from marketing_ui.core.models import Customer, CustomerTag, Tag  # noqa: E402
from marketing_ui.core.segments import count_matching  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IMPORT_ROWS = 100_000


def timed(fn: Callable[[], object], repeat: int = 5) -> tuple[float, object]:
    """Median wall time in ms over `repeat` runs (after one warm-up), and the last result."""
    result = fn()
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples), result


def create_pg_database() -> str:
    """Same approach as tests/conftest.py: a uniquely named database on the admin server."""
    name = f"mk_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(url: str) -> None:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def _tag_id(session: Session, name: str) -> int:
    return session.execute(sa.select(Tag.id).where(Tag.name == name)).scalar_one()


def measure(engine: Engine, n: int) -> dict[str, float]:
    """All read-side figures for one database."""
    out: dict[str, float] = {}
    with Session(engine) as s:
        lunch = _tag_id(s, "Lunch")
        out["first_page_ms"], _ = timed(lambda: list_customers(s, limit=50))
        filt = CustomerFilter(tag_id=lunch, email_consent=True)
        out["filtered_page_ms"], _ = timed(lambda: list_customers(s, filt, limit=50))

        # Deep page: keyset (cursor taken from the row before it) vs OFFSET to the same place.
        deep = n // 2
        order = (Customer.last_name, Customer.first_name, Customer.id)
        before = s.execute(sa.select(*order).order_by(*order).offset(deep - 1).limit(1)).one()
        cursor = encode_cursor(list(before))
        out["deep_page_keyset_ms"], keyset_page = timed(lambda: list_customers(s, cursor=cursor))
        offset_query = row_select().order_by(*order).offset(deep).limit(50)
        out["deep_page_offset_ms"], offset_rows = timed(
            lambda: rows_from_select(s, offset_query), 3
        )
        assert [r.id for r in keyset_page.rows] == [r.id for r in offset_rows]  # type: ignore[union-attr]
        out["deep_page_offset_vs_keyset_ratio"] = (
            out["deep_page_offset_ms"] / out["deep_page_keyset_ms"]
        )

        # Segment: any of two tags AND email consent AND created in the last year.
        tags = [_tag_id(s, "Dinner"), _tag_id(s, "Vegan")]
        rules = {
            "op": "and",
            "rules": [
                {"type": "tags", "mode": "any", "tags": tags},
                {"type": "consent", "channel": "email", "value": True},
                {"type": "created", "op": "last_days", "value": 365},
            ],
        }
        out["segment_count_ms"], sql_count = timed(lambda: count_matching(s, rules), 3)
        sample = min(n, 100_000)

        def naive_segment() -> int:
            cutoff = datetime.now(UTC) - timedelta(days=365)
            customers = s.execute(
                sa.select(Customer.id, Customer.email_consent, Customer.created_at)
                .order_by(Customer.id)
                .limit(sample)
            ).all()
            links: dict[int, set[int]] = {}
            for cid, tid in s.execute(
                sa.select(CustomerTag.customer_id, CustomerTag.tag_id).where(
                    CustomerTag.customer_id <= customers[-1][0]
                )
            ):
                links.setdefault(cid, set()).add(tid)
            return sum(
                1
                for cid, consent, created in customers
                if consent
                and (created if created.tzinfo else created.replace(tzinfo=UTC)) >= cutoff
                and links.get(cid, set()) & set(tags)
            )

        naive_ms, _ = timed(naive_segment, 1)
        out["segment_count_naive_ms"] = naive_ms * n / sample
        out["segment_count_naive_vs_sql_ratio"] = (
            out["segment_count_naive_ms"] / out["segment_count_ms"]
        )
        out["segment_count_result"] = float(sql_count)  # type: ignore[arg-type]

        target = email_of(n * 3 // 4)
        lookup = CustomerFilter(search=target)
        out["email_lookup_ms"], found = timed(lambda: list_customers(s, lookup), 20)
        assert [r.email for r in found.rows] == [target]  # type: ignore[union-attr]
        scan = min(n, 20_000)

        def naive_lookup() -> int:
            fc = cipher()
            hits = 0
            for uid, token in s.execute(
                sa.select(Customer.uid, Customer.email_enc).order_by(Customer.id).limit(scan)
            ):
                if fc.decrypt(token, associated_data("customer", "email", uid)) == target:
                    hits += 1
            return hits

        naive_ms, _ = timed(naive_lookup, 1)
        out["email_lookup_naive_ms"] = naive_ms * n / scan
        out["email_lookup_naive_vs_index_ratio"] = (
            out["email_lookup_naive_ms"] / out["email_lookup_ms"]
        )
    return out


def write_import_file(path: Path, start: int, rows: int) -> None:
    """100k rows as a spreadsheet would export them: semicolons, BOM, some bad lines."""
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        fh.write("First name;Surname;E-mail;Mobile;Newsletter;Tags\r\n")
        for i in range(start, start + rows):
            email = email_of(i) if i % 500 else "broken-address"
            phone = phone_of(i).replace("+44", "0") if i % 2 else ""
            fh.write(
                f"Imported{i};Person;{email};{phone};{'yes' if i % 3 else ''};Import,Bench\r\n"
            )


def measure_import(engine: Engine, n: int) -> tuple[float, dict[str, int]]:
    path = OUT / "import_100k.csv"
    write_import_file(path, n + 10, IMPORT_ROWS)
    mapping = {
        "first_name": "First name",
        "last_name": "Surname",
        "email": "E-mail",
        "phone": "Mobile",
        "email_consent": "Newsletter",
        "tags": "Tags",
    }
    os.environ["DEFAULT_REGION"] = "GB"
    from marketing_ui.core.config import reset_settings_cache

    reset_settings_cache()
    started = time.perf_counter()
    result = run_import(engine, path, mapping, "add_only", ["Bench import"])
    seconds = time.perf_counter() - started
    return seconds, {"created": result.created, "errors": result.error_count}


def update_docs(results: dict) -> None:
    doc = ROOT / "docs" / "benchmarks.md"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    r = results
    section = f"""## Customers and segments

`python -m bench.customers{" --quick" if r["quick"] else ""}` on {r["date"]}, {r["machine"]};
{r["customers"]:,} seeded customers (encrypted email/phone, blind indexes, 20 tags,
~1.4 tag links each), PostgreSQL {r.get("pg_version", "n/a")} on the same machine.
Raw figures: `bench/results/customers.json`. Targets from issue 3 in brackets.

| Measure | SQLite | PostgreSQL | Naive way it replaces (SQLite / PG) |
|---|---|---|---|
| Customers first page, 50 rows [< 200 ms] | {r["first_page_ms_sqlite"]:.1f} ms | {r.get("first_page_ms_pg", float("nan")):.1f} ms | |
| Filtered page, tag + email consent [< 200 ms] | {r["filtered_page_ms_sqlite"]:.1f} ms | {r.get("filtered_page_ms_pg", float("nan")):.1f} ms | |
| Page at the middle of the list, keyset | {r["deep_page_keyset_ms_sqlite"]:.1f} ms | {r.get("deep_page_keyset_ms_pg", float("nan")):.1f} ms | OFFSET: {r["deep_page_offset_ms_sqlite"]:.0f} / {r.get("deep_page_offset_ms_pg", float("nan")):.0f} ms (x{r["deep_page_offset_vs_keyset_ratio_sqlite"]:.0f} / x{r.get("deep_page_offset_vs_keyset_ratio_pg", float("nan")):.0f}) |
| Segment count, 3 rules [< 1 s] | {r["segment_count_ms_sqlite"]:.0f} ms | {r.get("segment_count_ms_pg", float("nan")):.0f} ms | load + filter in Python: {r["segment_count_naive_ms_sqlite"]:.0f} / {r.get("segment_count_naive_ms_pg", float("nan")):.0f} ms (x{r["segment_count_naive_vs_sql_ratio_sqlite"]:.1f} / x{r.get("segment_count_naive_vs_sql_ratio_pg", float("nan")):.1f}) |
| Exact email lookup [< 10 ms] | {r["email_lookup_ms_sqlite"]:.2f} ms | {r.get("email_lookup_ms_pg", float("nan")):.2f} ms | decrypt-and-scan: {r["email_lookup_naive_ms_sqlite"]:.0f} / {r.get("email_lookup_naive_ms_pg", float("nan")):.0f} ms (x{r["email_lookup_naive_vs_index_ratio_sqlite"]:,.0f} / x{r.get("email_lookup_naive_vs_index_ratio_pg", float("nan")):,.0f}) |
| Import 100,000 CSV rows [< 60 s] | {r["import_100k_rows_s"]:.1f} s | {r.get("import_100k_rows_s_pg", float("nan")):.1f} s | |

Pages include decrypting the 50 emails and phones shown and loading their tags. The segment
is "any of 2 tags AND email consent AND created in the last 365 days"
({int(r["segment_count_result_sqlite"]):,} matches). Naive figures are measured on a sample
(100,000 rows for the segment, 20,000 decryptions for the lookup) and scaled linearly to
{r["customers"]:,} rows. The import file has a BOM, semicolons, UK national-format numbers
and one invalid email per 500 rows; it is imported in "add only" mode into the seeded
database ({r["import_created_sqlite"]:,} created, {r["import_errors_sqlite"]:,} rows reported).

"""
    start = text.find("## Customers and segments")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1 :] if end != -1 else "")
    doc.write_text(text.rstrip("\n") + "\n")


def run_database(label: str, engine: Engine, n: int, results: dict, reuse: bool) -> None:
    with engine.connect() as conn:
        try:
            have = conn.execute(sa.select(sa.func.count()).select_from(Customer)).scalar_one()
        except sa.exc.DatabaseError:
            have = 0
    if not (reuse and have == n):
        print(f"[{label}] seeding {n:,} customers ...", flush=True)
        results[f"seed_s_{label}"] = seed(engine, n)
        print(f"[{label}] seeded in {results[f'seed_s_{label}']:.1f} s", flush=True)
    for key, value in measure(engine, n).items():
        results[f"{key}_{label}"] = value
        print(f"[{label}] {key}: {value:,.2f}", flush=True)
    seconds, counts = measure_import(engine, n)
    results["import_100k_rows_s" if label == "sqlite" else "import_100k_rows_s_pg"] = seconds
    results[f"import_created_{label}"] = counts["created"]
    results[f"import_errors_{label}"] = counts["errors"]
    print(f"[{label}] import of {IMPORT_ROWS:,} rows: {seconds:.1f} s {counts}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50,000 customers")
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    n = args.n or (50_000 if args.quick else 1_000_000)
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "customers": n,
        "quick": args.quick,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
    }
    db = OUT / f"customers_{n}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)  # the import adds rows: start clean
    sqlite_engine = make_engine(f"sqlite:///{db}")
    run_database("sqlite", sqlite_engine, n, results, reuse=False)
    sqlite_engine.dispose()
    if not args.no_pg:
        url = create_pg_database()
        try:
            pg_engine = make_engine(url)
            with pg_engine.connect() as conn:
                results["pg_version"] = conn.execute(sa.text("SHOW server_version")).scalar()
            run_database("pg", pg_engine, n, results, reuse=False)
            pg_engine.dispose()
        finally:
            drop_pg_database(url)
    write_results("customers", results)
    update_docs(results)
    print(json.dumps(results, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
