"""Automations at scale: finding who is due, in SQL, over 1,000,000 customers (quick: 100,000).

    python -m bench.automations [--quick] [--no-pg]

Seeds customers (birthdays, last visits, consent events, recent visits) directly with SQL into
a SQLite file under bench/out/ and a fresh PostgreSQL database (dropped afterwards), enables
welcome, birthday, win-back and thank-you, then times the engine's evaluation — the
INSERT … SELECT … ON CONFLICT DO NOTHING of each due set, nothing sent — on a first run and on a
tick a day later (reading only what changed), next to a naive tick that loads every row into
Python, decides there and inserts the same occurrences. Writes bench/results/automations.json and the "## Automations"
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


def naive(engine: Engine, now: datetime) -> dict[str, int]:
    """The tick decided in Python: every row loaded, the same rules applied, the new occurrences
    inserted (then rolled back, so the engine finds the same work after it)."""
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
        ids = dict(session.execute(sa.select(Automation.kind, Automation.id)).all())
        kinds = {v: k for k, v in ids.items()}
        recorded: dict[str, set[tuple[int, str]]] = {k: set() for k in ids}
        last_at: dict[tuple[str, int], datetime] = {}
        for a, c, o, at in session.execute(
            sa.select(
                AutomationOccurrence.automation_id,
                AutomationOccurrence.customer_id,
                AutomationOccurrence.occurrence,
                AutomationOccurrence.created_at,
            )
        ).all():
            recorded[kinds[a]].add((c, o))
            key = (kinds[a], c)
            last_at[key] = max(last_at.get(key, _utc(at)), _utc(at))  # type: ignore[arg-type]

        def quiet(kind: str, cid: int, days: int) -> bool:
            at = last_at.get((kind, cid))
            return at is None or at <= now - timedelta(days=days)

        reachable = {c.id for c in customers if c.email_consent and c.email_bidx}
        due: dict[str, set[tuple[int, str]]] = {}
        due["welcome"] = {
            (cid, "welcome")
            for cid, source, at in consents
            if cid in reachable
            and source != "import"
            and ENABLED_AT <= _utc(at) <= now - timedelta(hours=24)
        }
        today = now.date()
        window = [today + timedelta(days=d) for d in range(SETTINGS["birthday"]["days_before"] + 1)]
        due["birthday"] = {
            (c.id, str(d.year))
            for c in customers
            if c.id in reachable and c.birthday_month
            for d in window
            if birthday_in(d.year, c.birthday_month, c.birthday_day) == d
        }
        winback = SETTINGS["winback"]
        bucket = (today - datetime(1970, 1, 1).date()).days // winback["period_days"]
        due["winback"] = {
            (c.id, f"p{bucket}")
            for c in customers
            if c.id in reachable
            and c.last_visit_at is not None
            and _utc(c.last_visit_at) <= now - timedelta(days=winback["inactive_days"])
            and quiet("winback", c.id, winback["period_days"])
        }
        newest = now - timedelta(hours=SETTINGS["thank_you"]["delay_hours"])
        latest: dict[int, tuple[datetime, int]] = {}
        for cid, vid, at in visits:
            at = _utc(at)
            if max(newest - THANK_YOU_WINDOW, ENABLED_AT) <= at <= newest:
                latest[cid] = max(latest.get(cid, (at, vid)), (at, vid))
        due["thank_you"] = {
            (cid, f"visit:{vid}")
            for cid, (_, vid) in latest.items()
            if cid in reachable and quiet("thank_you", cid, SETTINGS["thank_you"]["period_days"])
        }
        counts = {}
        for kind, rows in due.items():
            new = rows - recorded[kind]
            counts[kind] = len(new)
            if new:
                session.execute(
                    sa.insert(AutomationOccurrence.__table__),
                    [{"automation_id": ids[kind], "customer_id": c, "occurrence": o,
                      "created_at": now} for c, o in new],
                )  # fmt: skip
        session.rollback()
    return counts


def _timed_run(engine: Engine, now: datetime) -> tuple[float, dict[str, int]]:
    with Session(engine) as session:
        t = time.perf_counter()
        report = automations.run(session, now, send=False)
        return (time.perf_counter() - t) * 1000, report.fired


def measure(engine: Engine) -> dict[str, float | int | dict[str, int]]:
    """Switched on a day ago (the first run reads everyone), then the tick of today."""
    first_ms, first = _timed_run(engine, NOW - timedelta(days=1))
    t = time.perf_counter()
    naive_counts = naive(engine, NOW)
    naive_ms = (time.perf_counter() - t) * 1000
    tick_ms, fired = _timed_run(engine, NOW)
    rerun_ms, again = _timed_run(engine, NOW + timedelta(minutes=1))
    assert fired == naive_counts, (fired, naive_counts)
    assert sum(again.values()) == 0, again
    return {
        "first_run_ms": first_ms,
        "first_run_occurrences": sum(first.values()),
        "tick_ms": tick_ms,
        "rerun_ms": rerun_ms,
        "naive_ms": naive_ms,
        "ratio_naive_to_tick": naive_ms / tick_ms,
        "occurrences": sum(fired.values()),
        "fired": fired,
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
        f"{n:,} customers seeded with SQL (60% with a birthday, 70% with a last visit over 300 "
        "days, one consent event each over 400 days, visits of the last 3 days), welcome, "
        "birthday, win-back and thank-you enabled. *First run*: switched on a day earlier, the run "
        "that reads everyone (the backlog of lapsed customers); *tick*: the run of the next day, "
        "reading only what changed since (birthdays in the window, lapses, consents, visits), "
        "nothing sent; *re-run*: a minute later, nothing new; *naive*: the same tick decided in "
        "Python over every row loaded, with the same inserts (rolled back). Both find the same "
        f"occurrences (asserted). Machine: {machine()}. "
        f"`python -m bench.automations{' --quick' if args.quick else ''}`.",
        "",
        "| Database | Tick | Naive in Python | Naive ÷ tick | Re-run | First run | "
        "Occurrences in the tick |",
        "|---|---|---|---|---|---|---|",
    ]
    for db, r in results.items():
        for key, value in r.items():
            if key != "fired":
                flat[f"{db}_{key}"] = round(value, 2) if isinstance(value, float) else value
        lines.append(
            f"| {db} | {r['tick_ms']:,.0f} ms | {r['naive_ms']:,.0f} ms "
            f"| {r['ratio_naive_to_tick']:,.1f}× | {r['rerun_ms']:,.0f} ms "
            f"| {r['first_run_ms']:,.0f} ms ({r['first_run_occurrences']:,}) "
            f"| {r['occurrences']:,} ({', '.join(f'{k} {v:,}' for k, v in r['fired'].items())}) |"
        )
        print(db, {k: v for k, v in r.items()}, file=sys.stderr)
    write_results("automations", flat)
    replace_section("Automations", "\n".join(lines))


if __name__ == "__main__":
    main()
