"""Automations at scale: finding who is due, in SQL, over 1,000,000 customers (quick: 100,000).

    python -m bench.automations [--quick] [--no-pg]

Seeds customers (birthdays, last visits, consent events, recent visits) directly with SQL into
a SQLite file under bench/out/ and a fresh PostgreSQL database (dropped afterwards), enables
welcome, birthday, win-back and thank-you, then times the engine's evaluation — the
INSERT … SELECT … ON CONFLICT DO NOTHING of each due set, nothing sent — on a first run and on a
re-run (everything already recorded), next to a naive evaluation that loads the same rows into
Python and decides there. Writes bench/results/automations.json and the "## Automations"
section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
os.environ.setdefault("DATA_DIR", str(OUT / "data"))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session, SQLModel  # noqa: E402

from bench.analytics import create_pg_database, drop_pg_database  # noqa: E402
from bench.report import machine, replace_section, write_results  # noqa: E402
from marketing_ui.core.automations import engine as automations  # noqa: E402
from marketing_ui.core.automations.engine import THANK_YOU_WINDOW, birthday_in  # noqa: E402
from marketing_ui.core.db import make_engine  # noqa: E402
from marketing_ui.core.models import (  # noqa: E402
    Automation,
    AutomationOccurrence,
    Campaign,
    ConsentEvent,
    Customer,
    Visit,
)
from marketing_ui.core.rendering import load_template  # noqa: E402

NOW = datetime(2027, 6, 15, 12, tzinfo=UTC)
ENABLED_AT = NOW - timedelta(days=30)
CHUNK = 20_000
SETTINGS = {
    "welcome": {"delay_hours": 24},
    "birthday": {"days_before": 3},
    "winback": {"inactive_days": 60, "period_days": 90},
    "thank_you": {"delay_hours": 3, "period_days": 7},
}


def _rows(n: int) -> tuple[list[dict], list[dict], list[dict]]:
    rnd = random.Random(14)
    customers, consents, visits = [], [], []
    for i in range(1, n + 1):
        last_visit = (
            NOW - timedelta(hours=rnd.randrange(0, 24 * 300)) if rnd.random() < 0.7 else None
        )
        has_birthday = rnd.random() < 0.6
        customers.append(
            {
                "id": i,
                "uid": f"{i:032x}",
                "first_name": f"Guest{i}",
                "last_name": "",
                "email_bidx": f"{i:064x}",
                "email_consent": rnd.random() < 0.9,
                "sms_consent": False,
                "created_at": NOW - timedelta(days=400),
                "updated_at": NOW,
                "last_visit_at": last_visit,
                "visit_count": 1 if last_visit else 0,
                "birthday_month": rnd.randint(1, 12) if has_birthday else None,
                "birthday_day": rnd.randint(1, 28) if has_birthday else None,
            }
        )
        consents.append(
            {
                "customer_id": i,
                "channel": "email",
                "granted": True,
                "source": "import" if rnd.random() < 0.5 else "manual",
                "note": "",
                "created_at": NOW - timedelta(hours=rnd.randrange(0, 24 * 400)),
            }
        )
        if last_visit is not None and NOW - last_visit < timedelta(days=3):
            visits.append(
                {"customer_id": i, "at": last_visit, "source": "check_in", "created_at": last_visit}
            )
    return customers, consents, visits


def seed(engine: Engine, n: int) -> None:
    SQLModel.metadata.create_all(engine)
    customers, consents, visits = _rows(n)
    with engine.begin() as conn:
        for table, rows in (
            (Customer.__table__, customers),
            (ConsentEvent.__table__, consents),
            (Visit.__table__, visits),
        ):
            for start in range(0, len(rows), CHUNK):
                conn.execute(sa.insert(table), rows[start : start + CHUNK])
    with Session(engine) as session:
        for kind, fields in SETTINGS.items():
            template = Campaign(
                name=f"{kind} template", subject="Hello", mjml_body=load_template("blank")
            )
            session.add(template)
            session.flush()
            row = Automation(
                kind=kind,
                enabled=True,
                enabled_at=ENABLED_AT,
                template_campaign_id=template.id,
                **fields,
            )
            session.add(row)
            session.flush()
            template.automation_id = row.id
        session.commit()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def naive(engine: Engine) -> dict[str, int]:
    """The same decisions, made in Python over every row loaded (what the SQL saves us)."""
    with Session(engine) as session:
        customers = session.execute(
            sa.select(
                Customer.id,
                Customer.email_consent,
                Customer.email_bidx,
                Customer.birthday_month,
                Customer.birthday_day,
                Customer.last_visit_at,
            )
        ).all()
        consents = session.execute(
            sa.select(ConsentEvent.customer_id, ConsentEvent.source, ConsentEvent.created_at).where(
                ConsentEvent.granted.is_(True)
            )
        ).all()
        visits = session.execute(sa.select(Visit.customer_id, Visit.id, Visit.at)).all()
        recent = {
            (a, c)
            for a, c in session.execute(
                sa.select(AutomationOccurrence.automation_id, AutomationOccurrence.customer_id)
            ).all()
        }
        ids = dict(session.execute(sa.select(Automation.kind, Automation.id)).all())
    reachable = {c.id for c in customers if c.email_consent and c.email_bidx}
    welcome = {
        cid
        for cid, source, at in consents
        if source != "import" and ENABLED_AT <= _utc(at) <= NOW - timedelta(hours=24)
    } & reachable
    today = NOW.date()
    window = {today + timedelta(days=d) for d in range(4)}
    birthday = {
        c.id
        for c in customers
        if c.id in reachable
        and c.birthday_month
        and any(birthday_in(d.year, c.birthday_month, c.birthday_day) == d for d in window)
    }
    winback = {
        c.id
        for c in customers
        if c.id in reachable
        and c.last_visit_at is not None
        and _utc(c.last_visit_at) <= NOW - timedelta(days=60)
        and (ids["winback"], c.id) not in recent
    }
    newest = NOW - timedelta(hours=3)
    thanks = {
        cid
        for cid, _, at in visits
        if cid in reachable
        and max(newest - THANK_YOU_WINDOW, ENABLED_AT) <= _utc(at) <= newest
        and (ids["thank_you"], cid) not in recent
    }
    return {"welcome": len(welcome), "birthday": len(birthday), "winback": len(winback),
            "thank_you": len(thanks)}  # fmt: skip


def measure(engine: Engine) -> dict[str, float | int | dict[str, int]]:
    t = time.perf_counter()
    naive_counts = naive(engine)
    naive_ms = (time.perf_counter() - t) * 1000
    with Session(engine) as session:
        t = time.perf_counter()
        first = automations.run(session, NOW, send=False)
        first_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        again = automations.run(session, NOW, send=False)
        rerun_ms = (time.perf_counter() - t) * 1000
    assert sum(again.fired.values()) == 0, again.fired
    assert first.fired == naive_counts, (first.fired, naive_counts)
    return {
        "sql_ms": first_ms,
        "rerun_ms": rerun_ms,
        "naive_ms": naive_ms,
        "occurrences": sum(first.fired.values()),
        "fired": first.fired,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 customers")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    n = 100_000 if args.quick else 1_000_000
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    path = OUT / "automations.db"
    path.unlink(missing_ok=True)
    sqlite = make_engine(f"sqlite:///{path}")
    t = time.perf_counter()
    seed(sqlite, n)
    print(f"sqlite: seeded {n:,} customers in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    results["sqlite"] = measure(sqlite)
    sqlite.dispose()
    path.unlink(missing_ok=True)
    if not args.no_pg:
        url = create_pg_database()
        pg = make_engine(url)
        try:
            t = time.perf_counter()
            seed(pg, n)
            print(f"postgres: seeded in {time.perf_counter() - t:.1f}s", file=sys.stderr)
            results["postgres"] = measure(pg)
        finally:
            pg.dispose()
            drop_pg_database(url)
    flat: dict[str, object] = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
                               "customers": n}  # fmt: skip
    lines = [
        f"{n:,} customers seeded with SQL (60% with a birthday, 70% with a last visit, one "
        "consent event each, recent visits), welcome, birthday, win-back and thank-you enabled. "
        "*SQL*: the engine's evaluation (one INSERT … SELECT … ON CONFLICT DO NOTHING per "
        "automation, nothing sent); *re-run*: the same again, everything already recorded; "
        "*naive*: loading the rows into Python and deciding there (no insert). "
        f"Machine: {machine()}. `python -m bench.automations{' --quick' if args.quick else ''}`.",
        "",
        "| Database | SQL evaluation | Re-run | Naive in Python | Occurrences |",
        "|---|---|---|---|---|",
    ]
    for db, r in results.items():
        for key in ("sql_ms", "rerun_ms", "naive_ms", "occurrences"):
            flat[f"{db}_{key}"] = round(r[key], 1) if isinstance(r[key], float) else r[key]
        lines.append(
            f"| {db} | {r['sql_ms']:,.0f} ms | {r['rerun_ms']:,.0f} ms | {r['naive_ms']:,.0f} ms "
            f"| {r['occurrences']:,} ({', '.join(f'{k} {v:,}' for k, v in r['fired'].items())}) |"
        )
        print(db, {k: v for k, v in r.items()}, file=sys.stderr)
    write_results("automations", flat)
    replace_section("Automations", "\n".join(lines))


if __name__ == "__main__":
    main()
