"""Bulk generator of campaigns, deliveries, coupons and tracking events for the analytics bench.

    python -m bench.seed_events --events 10000000 --db sqlite:///bench/out/events.db

Rows are written in bulk: COPY on PostgreSQL, executemany in big transactions on SQLite. Events
are written in time order, as a live system appends them. The event table's secondary indexes
are dropped during the load and rebuilt after (as a restore would). Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from marketing_ui.core import models  # noqa: F401 - registers the tables
from marketing_ui.core.db import make_engine

CHUNK = 200_000
NOW = datetime(2026, 11, 1, tzinfo=UTC)
ERRORS = ("mailbox does not exist", "invalid address", "message rejected as spam", "timeout")
# (type, cumulative probability) for generated events
EVENT_MIX = (
    ("opened", 0.55),
    ("clicked", 0.75),
    ("sent", 0.85),
    ("delivered", 0.94),
    ("delayed", 0.95),
    ("bounced", 0.96),
    ("complained", 0.965),
    ("failed", 0.97),
    ("unsubscribed", 0.98),
    ("redeemed", 1.0),
)
EVENT_INDEXES = ("ix_event_campaign_type_time", "ix_event_type_time", "ix_event_delivery")
EVENT_COLUMNS = ("campaign_id", "delivery_id", "customer_id", "channel", "type", "detail",
                 "created_at")  # fmt: skip


@dataclass(frozen=True)
class Plan:
    campaigns: int
    recipients: int  # per campaign and channel
    customers: int
    events: int


@dataclass
class Deliveries:
    """Per delivery id - 1: its campaign index, customer, channel and send time (epoch s)."""

    campaign: list[int]
    customer: list[int]
    sms: list[bool]
    sent_at: list[float]


def plan_for(events: int) -> Plan:
    if events >= 5_000_000:
        return Plan(campaigns=100, recipients=10_000, customers=100_000, events=events)
    return Plan(campaigns=100, recipients=2_000, customers=20_000, events=events)


def seed(engine: Engine, plan: Plan, rng_seed: int = 7) -> dict[str, float]:
    """Create all tables and fill them; returns seconds spent per stage."""
    rng = random.Random(rng_seed)
    SQLModel.metadata.create_all(engine)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    _customers(engine, plan)
    sent_times = _campaigns(engine, plan, rng)
    deliveries = _deliveries(engine, plan, rng, sent_times)
    timings["setup_s"] = time.perf_counter() - t
    t = time.perf_counter()
    with engine.begin() as conn:
        for name in EVENT_INDEXES:
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
    # In arrival order, as a live system appends them (each campaign's events cluster in time).
    events = sorted(_events(plan, deliveries, rng), key=lambda e: e[-1])
    _load(engine, "event", EVENT_COLUMNS, iter(events))
    del events
    timings["events_load_s"] = time.perf_counter() - t
    t = time.perf_counter()
    with engine.begin() as conn:
        for index in models.Event.__table__.indexes:
            if index.name in EVENT_INDEXES:
                index.create(conn)
    analyze(engine)
    timings["events_index_s"] = time.perf_counter() - t
    return timings


def analyze(engine: Engine) -> None:
    """Planner statistics, as a running database has them (autovacuum; SQLite's ANALYZE)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def _customers(engine: Engine, plan: Plan) -> None:
    start = NOW - timedelta(days=365)
    step = 365 * 86400 / plan.customers
    rows = (
        (i + 1, f"{i + 1:032x}", f"Guest{i}", "", False, False, ts, ts)
        for i in range(plan.customers)
        for ts in [_stamp(engine, start.timestamp() + i * step)]
    )
    cols = ("id", "uid", "first_name", "last_name", "email_consent", "sms_consent",
            "created_at", "updated_at")  # fmt: skip
    _load(engine, "customer", cols, rows)
    consent = (
        (
            i + 1,
            "email" if i % 3 else "sms",
            i % 5 != 0,
            "import",
            "",
            _stamp(engine, start.timestamp() + i * step * 7),
        )  # fmt: skip
        for i in range(plan.customers // 7)
    )
    _load(engine, "consent_event",
          ("customer_id", "channel", "granted", "source", "note", "created_at"), consent)  # fmt: skip


def _campaigns(engine: Engine, plan: Plan, rng: random.Random) -> list[float]:
    """100 sent campaigns over the last 200 days; every fifth goes by email and SMS."""
    sent_times = []
    rows = []
    for i in range(plan.campaigns):
        sent = NOW.timestamp() - (plan.campaigns - i) * 2 * 86400 + rng.randrange(3600)
        sent_times.append(sent)
        stamp = _stamp(engine, sent)
        rows.append(
            (
                i + 1,
                f"Campaign {i + 1:03d}",
                "both" if i % 5 == 0 else "email",
                "",
                "",
                "",
                "",
                "blank",
                "",
                "",
                i % 3 == 0,
                "",
                True,
                "sent",
                1,
                "{}",
                stamp,
                stamp,
                "",
                False,
                stamp,
                stamp,
            )  # fmt: skip
        )
    cols = ("id", "name", "channel", "subject", "preheader", "from_name", "from_email",
            "template_name", "mjml_body", "sms_body", "has_qr_code", "offer_text",
            "track_opens_clicks", "status", "version", "audience_json", "sent_at", "finished_at",
            "failure_reason", "archived", "created_at", "updated_at")  # fmt: skip
    _load(engine, "campaign", cols, iter(rows))
    return sent_times


def _deliveries(
    engine: Engine, plan: Plan, rng: random.Random, sent_times: list[float]
) -> Deliveries:
    d = Deliveries([], [], [], [])
    rows, coupons = [], []
    for ci in range(plan.campaigns):
        channels = ("email", "sms") if ci % 5 == 0 else ("email",)
        first = rng.randrange(plan.customers - plan.recipients)
        for channel in channels:
            for k in range(plan.recipients):
                did = len(d.campaign) + 1
                cust = first + k + 1
                r = rng.random()
                status, error = "delivered", ""
                if r < 0.03:
                    status, error = "bounced", ERRORS[0]
                elif r < 0.05:
                    status, error = "failed", ERRORS[rng.randrange(1, len(ERRORS))]
                elif r < 0.07:
                    status, error = "skipped", "consent withdrawn"
                elif r < 0.10:
                    status = "sent"
                sent = sent_times[ci] + k * 0.05
                d.campaign.append(ci)
                d.customer.append(cust)
                d.sms.append(channel == "sms")
                d.sent_at.append(sent)
                stamp = _stamp(engine, sent)
                rows.append(
                    (
                        did,
                        ci + 1,
                        cust,
                        channel,
                        status,
                        1,
                        error,
                        None if status == "skipped" else stamp,
                        stamp,
                        stamp,
                    )  # fmt: skip
                )
                if ci % 3 == 0:
                    redeemed = rng.random() < 0.2 and status == "delivered"
                    coupons.append(
                        (
                            ci + 1,
                            did,
                            cust,
                            f"{did:032x}",
                            f"t{did}",
                            f"s{did}",
                            "x",
                            "redeemed" if redeemed else "issued",
                            _stamp(engine, sent + 86400 * rng.random()) if redeemed else None,
                            stamp,
                        )  # fmt: skip
                    )
    cols = ("id", "campaign_id", "customer_id", "channel", "status", "attempts", "error",
            "sent_at", "created_at", "updated_at")  # fmt: skip
    _load(engine, "delivery", cols, iter(rows))
    kcols = ("campaign_id", "delivery_id", "customer_id", "uid", "token_hash", "short_code_hash",
             "secret_enc", "status", "redeemed_at", "created_at")  # fmt: skip
    _load(engine, "coupon", kcols, iter(coupons))
    return d


def _events(plan: Plan, d: Deliveries, rng: random.Random) -> Iterator[tuple]:
    """Events on random deliveries, most within hours of the send, a tail over two weeks."""
    n_deliveries = len(d.campaign)
    links = [f"https://example.com/c{c}/link{j}" for c in range(plan.campaigns) for j in range(5)]
    mean_delay = 6 * 3600.0
    for _ in range(plan.events):
        i = rng.randrange(n_deliveries)
        r = rng.random()
        typ = next(name for name, p in EVENT_MIX if r < p)
        ci = d.campaign[i]
        if d.sms[i] and typ == "opened":
            typ = "clicked"
        detail = links[ci * 5 + int(rng.random() ** 2 * 5)] if typ == "clicked" else ""
        delay = min(rng.expovariate(1 / mean_delay), 14 * 86400.0)
        yield (ci + 1, i + 1, d.customer[i], "sms" if d.sms[i] else "email", typ, detail,
               d.sent_at[i] + delay)  # fmt: skip


def _stamp(engine: Engine, epoch: float) -> object:
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    if engine.dialect.name == "sqlite":
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


def _load(engine: Engine, table: str, columns: tuple[str, ...], rows: Iterator[tuple]) -> int:
    """Bulk insert: COPY on PostgreSQL, chunked executemany on SQLite. Timestamps last column
    of events arrive as epoch seconds and are converted here."""
    is_event = table == "event"
    total = 0
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    if is_event:
                        row = (*row[:-1], datetime.fromtimestamp(row[-1], tz=UTC))
                    copy.write_row(row)
                    total += 1
        else:
            marks = ", ".join("?" * len(columns))
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            batch: list[tuple] = []
            for row in rows:
                if is_event:
                    row = (*row[:-1], _stamp(engine, row[-1]))
                batch.append(row)
                if len(batch) >= CHUNK:
                    cur.executemany(sql, batch)
                    total += len(batch)
                    batch.clear()
            if batch:
                cur.executemany(sql, batch)
                total += len(batch)
        raw.commit()
    finally:
        raw.close()
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", required=True)
    args = parser.parse_args()
    timings = seed(make_engine(args.db), plan_for(args.events))
    print({k: round(v, 1) for k, v in timings.items()})


if __name__ == "__main__":
    main()
