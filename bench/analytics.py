"""Analytics at scale: overview and campaign dashboard server time on SQLite and PostgreSQL.

    python -m bench.analytics [--quick] [--no-pg] [--events N]

Seeds 100 campaigns and 10,000,000 events (quick: 1,000,000) with bench/seed_events.py into a
SQLite file under bench/out/ and a fresh PostgreSQL database (dropped afterwards), builds the
rollups once, then times what a dashboard load does (an incremental refresh plus the reads),
next to the naive GROUP BY over the raw events. Folds in the tracking throughput from
bench/results/tracking.json when bench/tracking_load.py has produced it. Writes
bench/results/analytics.json and the "## Analytics" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
os.environ.setdefault("DATA_DIR", str(OUT / "data"))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bench.report import machine, write_results  # noqa: E402
from bench.seed_events import analyze, plan_for, seed  # noqa: E402
from marketing_ui.core.analytics import ab, lift, reports, revenue, rollup  # noqa: E402
from marketing_ui.core.db import make_engine  # noqa: E402
from marketing_ui.core.models import (  # noqa: E402
    Campaign,
    CampaignVariant,
    Coupon,
    Delivery,
    Event,
    Redemption,
    Visit,
)

PG_ADMIN_URL = os.environ.get(
    "TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CAMPAIGN_ID = 46  # mid-list, on both channels (every fifth) and with coupons (every third)
NEW_EVENTS = 10_000  # the incremental fold measured after the initial build


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median wall time in ms over `repeat` runs after one warm-up."""
    fn()
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def once(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def create_pg_database() -> str:
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


def dashboard_overview(engine: Engine) -> None:
    """What /analytics does per load: fold the (empty) tail, then read."""
    with Session(engine) as s:
        rollup.refresh_rollups(s)
        reports.overview(s)


def dashboard_campaign(engine: Engine) -> None:
    """What /campaigns/ID/analytics reads: funnel, hourly, links, revenue, holdout lift, A/B."""
    with Session(engine) as s:
        rollup.refresh_rollups(s)
        reports.campaign_funnel(s, CAMPAIGN_ID)
        reports.campaign_hourly(s, CAMPAIGN_ID)
        reports.top_links(s, CAMPAIGN_ID)
        _campaign_extras(s)


def _campaign_extras(s: Session) -> None:
    """The issue-16 cards, read the same way by both loads (they are SQL over indexed rows)."""
    campaign = s.get(Campaign, CAMPAIGN_ID)
    assert campaign is not None
    revenue.campaign_earnings(s, CAMPAIGN_ID)
    measured = lift.campaign_lift(s, CAMPAIGN_ID)
    assert measured is not None and measured.has_holdout
    assert ab.ab_report(s, campaign).has_test


def decorate_campaign(engine: Engine) -> dict[str, int]:
    """Give the measured campaign what issue 16 adds: two variants (A won after a 20% test), a
    10% holdout, visits with ticket amounts in its lift window, amounts on its redemptions."""
    with Session(engine) as s:
        campaign = s.get(Campaign, CAMPAIGN_ID)
        assert campaign is not None and campaign.sent_at is not None
        sent = campaign.sent_at
        a, b = (
            CampaignVariant(campaign_id=CAMPAIGN_ID, label=label, subject=f"Subject {label}")
            for label in "AB"
        )
        s.add_all([a, b])
        s.flush()
        decided = sent + timedelta(days=1)
        campaign.holdout_percent, campaign.lift_window_days = 10, 14
        campaign.ab_test_percent, campaign.ab_metric, campaign.ab_window_hours = 20, "clicks", 24
        campaign.ab_phase, campaign.ab_winner_variant_id = "decided", a.id
        campaign.ab_decided_at = decided
        rows = s.execute(
            sa.select(Delivery.id, Delivery.customer_id).where(Delivery.campaign_id == CAMPAIGN_ID)
        ).all()
        in_test = [d for d, _ in rows if d % 10 < 2]
        s.execute(
            sa.update(Delivery)
            .where(Delivery.campaign_id == CAMPAIGN_ID)
            .values(variant_id=sa.case((Delivery.id % 10 == 1, b.id), else_=a.id))
        )
        s.execute(  # the rest went out with the winner, after the decision
            sa.update(Delivery)
            .where(Delivery.campaign_id == CAMPAIGN_ID, Delivery.id % 10 >= 2)
            .values(created_at=decided + timedelta(seconds=1))
        )
        s.execute(
            sa.update(Delivery)
            .where(Delivery.campaign_id == CAMPAIGN_ID, Delivery.id % 10 == 5)
            .values(status="skipped", skip_reason="holdout")
        )
        customers = sorted({c for _, c in rows})
        s.add_all(
            Visit(customer_id=c, at=sent + timedelta(days=c % 13, hours=c % 7), source="check_in",
                  amount_minor=(c % 50 + 10) * 100, currency="USD")
            for c in customers if c % 3 == 0
        )  # fmt: skip
        redeemed = (
            s.execute(
                sa.select(Coupon.id).where(
                    Coupon.campaign_id == CAMPAIGN_ID, Coupon.status == "redeemed"
                )
            )
            .scalars()
            .all()
        )
        s.add_all(  # at the counter over the days after the send, not "now" (a just-made
            # redemption re-tallies its campaign on the next few seconds' loads, by design)
            Redemption(
                coupon_id=k,
                action="redeem",
                amount_minor=(k % 40 + 5) * 100,
                currency="USD",
                created_at=sent + timedelta(hours=6 + k % 200),
            )
            for k in redeemed
        )
        s.commit()
        return {
            "test_share": len(in_test),
            "visits": len(customers) // 3,
            "redeemed": len(redeemed),
        }


def naive_overview(engine: Engine) -> None:
    """The same per-campaign engagement numbers straight from the raw events."""
    with engine.connect() as conn:
        conn.execute(
            sa.text(
                "SELECT campaign_id, channel, type, count(*), count(DISTINCT delivery_id) "
                "FROM event GROUP BY campaign_id, channel, type"
            )
        ).all()


def naive_campaign(engine: Engine) -> None:
    """The engagement numbers straight from the raw events, plus the same issue-16 cards."""
    with engine.connect() as conn:
        conn.execute(
            sa.text(
                "SELECT channel, type, count(*), count(DISTINCT delivery_id) FROM event "
                "WHERE campaign_id = :c GROUP BY channel, type"
            ),
            {"c": CAMPAIGN_ID},
        ).all()
    with Session(engine) as s:
        _campaign_extras(s)


def campaign_after_new_clicks(engine: Engine, s: Session, ids: list[int], round_: int) -> float:
    """The first campaign page load after 100 new clicks were folded: its top links are
    counted again from the raw clicks (every later load reads them kept, see reports.top_links)."""
    s.add_all(
        Event(
            campaign_id=CAMPAIGN_ID,
            delivery_id=ids[(round_ * 100 + i) % len(ids)],
            channel="email",
            type="clicked",
            detail=f"https://example.com/c45/link{i % 5}",
        )
        for i in range(100)
    )
    s.commit()
    rollup.refresh_rollups(s, settle_s=0)
    return once(lambda: dashboard_campaign(engine))


def rollup_matches_raw(engine: Engine) -> bool:
    """The rollup's totals and uniques for the measured campaign equal a raw recount."""
    with Session(engine) as s:
        raw = {
            (ch, typ): (n, u)
            for ch, typ, n, u in s.execute(
                sa.text(
                    "SELECT channel, type, count(*), count(DISTINCT delivery_id) FROM event "
                    "WHERE campaign_id = :c AND type IN ('opened', 'clicked') GROUP BY channel, type"
                ),
                {"c": CAMPAIGN_ID},
            )
        }
        report = reports.campaign_funnel(s, CAMPAIGN_ID, include_machine=True)  # every event
    ours = {}
    for ch, f in report.by_channel.items():
        if f.opened_total:
            ours[(ch, "opened")] = (f.opened_total, f.opened_unique)
        if f.clicked_total:
            ours[(ch, "clicked")] = (f.clicked_total, f.clicked_unique)
    ok = raw == ours
    print(f"rollup matches raw: {ok} {raw} {ours}", flush=True)
    return ok


def measure(engine: Engine, events: int, label: str) -> dict[str, float]:
    print(f"[{label}] seeding {events:,} events…", flush=True)
    timings = seed(engine, plan_for(events))
    print(f"[{label}] seeded {timings}", flush=True)
    with Session(engine) as s:
        build_ms = once(lambda: rollup.refresh_rollups(s, settle_s=0))
    print(f"[{label}] rollup build {build_ms / 1000:.1f} s", flush=True)
    r: dict[str, float] = {"rollup_build_s": round(build_ms / 1000, 1), **timings}
    print(f"[{label}] measured campaign decorated: {decorate_campaign(engine)}", flush=True)
    analyze(engine)  # the decoration's rows counted, as autovacuum would soon have them
    r["overview_ms"] = timed(lambda: dashboard_overview(engine))
    r["campaign_ms"] = timed(lambda: dashboard_campaign(engine))
    r["rollup_matches_raw"] = float(rollup_matches_raw(engine))
    with Session(engine) as s:
        ids = (
            s.execute(
                sa.text("SELECT id FROM delivery WHERE campaign_id = :c AND channel = 'email'"),
                {"c": CAMPAIGN_ID},
            )
            .scalars()
            .all()
        )
        s.add_all(
            Event(
                campaign_id=CAMPAIGN_ID,
                delivery_id=ids[i % len(ids)],
                channel="email",
                type="opened",
            )
            for i in range(NEW_EVENTS)
        )
        s.commit()
        r["refresh_10k_new_ms"] = once(lambda: rollup.refresh_rollups(s, settle_s=0))
        r["refresh_idle_ms"] = timed(lambda: rollup.refresh_rollups(s, settle_s=0))
        r["campaign_after_fold_ms"] = statistics.median(
            campaign_after_new_clicks(engine, s, ids, round_) for round_ in range(3)
        )
    r["naive_overview_ms"] = timed(lambda: naive_overview(engine), repeat=1)
    r["naive_campaign_ms"] = timed(lambda: naive_campaign(engine), repeat=3)
    print(f"[{label}] {r}", flush=True)
    return r


def tracking_rps() -> float | None:
    """Throughput measured by the tracking endpoints' own load test, when it exists."""
    script = ROOT / "bench" / "tracking_load.py"
    result = ROOT / "bench" / "results" / "tracking.json"
    if not script.exists():
        return None
    if not result.exists():
        subprocess.run([sys.executable, "-m", "bench.tracking_load", "--quick"], cwd=ROOT)
    try:
        data = json.loads(result.read_text())
    except (OSError, ValueError):
        return None
    value = data.get("tracking_rps") or data.get("rps")
    return float(value) if value else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--events", type=int)
    args = parser.parse_args()
    events = args.events or (1_000_000 if args.quick else 10_000_000)
    OUT.mkdir(parents=True, exist_ok=True)
    db_file = OUT / f"events_{events}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    sqlite = make_engine(f"sqlite:///{db_file}")
    lite = measure(sqlite, events, "sqlite")
    sqlite.dispose()
    pg: dict[str, float] = {}
    pg_version = ""
    if not args.no_pg:
        url = create_pg_database()
        try:
            engine = make_engine(url)
            with engine.connect() as conn:
                pg_version = conn.execute(sa.text("SHOW server_version")).scalar_one()
            pg = measure(engine, events, "postgres")
            engine.dispose()
        finally:
            drop_pg_database(url)
    rps = tracking_rps()
    result = {
        "events": events,
        "campaigns": 100,
        "deliveries": _deliveries(events),
        "overview_ms_pg": _r(pg.get("overview_ms")),
        "overview_ms_sqlite": _r(lite["overview_ms"]),
        "campaign_ms_pg": _r(pg.get("campaign_ms")),
        "campaign_ms_sqlite": _r(lite["campaign_ms"]),
        "campaign_after_fold_ms_pg": _r(pg.get("campaign_after_fold_ms")),
        "campaign_after_fold_ms_sqlite": _r(lite["campaign_after_fold_ms"]),
        "tracking_rps": rps,
        "naive_overview_ms_pg": _r(pg.get("naive_overview_ms")),
        "naive_overview_ms_sqlite": _r(lite["naive_overview_ms"]),
        "naive_campaign_ms_pg": _r(pg.get("naive_campaign_ms")),
        "naive_campaign_ms_sqlite": _r(lite["naive_campaign_ms"]),
        "naive_ratio_overview_pg": _ratio(pg.get("naive_overview_ms"), pg.get("overview_ms")),
        "naive_ratio_overview_sqlite": _ratio(lite["naive_overview_ms"], lite["overview_ms"]),
        "naive_ratio_campaign_pg": _ratio(pg.get("naive_campaign_ms"), pg.get("campaign_ms")),
        "naive_ratio_campaign_sqlite": _ratio(lite["naive_campaign_ms"], lite["campaign_ms"]),
        "rollup_build_s_pg": pg.get("rollup_build_s"),
        "rollup_build_s_sqlite": lite["rollup_build_s"],
        "refresh_10k_new_ms_pg": _r(pg.get("refresh_10k_new_ms")),
        "refresh_10k_new_ms_sqlite": _r(lite["refresh_10k_new_ms"]),
        "refresh_idle_ms_pg": _r(pg.get("refresh_idle_ms")),
        "refresh_idle_ms_sqlite": _r(lite["refresh_idle_ms"]),
        "events_load_s_pg": _r(pg.get("events_load_s")),
        "events_load_s_sqlite": _r(lite["events_load_s"]),
        "rollup_matches_raw": bool(lite.get("rollup_matches_raw"))
        and (args.no_pg or bool(pg.get("rollup_matches_raw"))),
        "pg_version": pg_version,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
    }
    write_results("analytics", result)
    write_docs(result)
    print(json.dumps(result, indent=2))


def _deliveries(events: int) -> int:
    plan = plan_for(events)
    both = len(range(0, plan.campaigns, 5))
    return (plan.campaigns + both) * plan.recipients


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _ratio(naive: float | None, ours: float | None) -> float | None:
    return None if not naive or not ours else round(naive / ours, 1)


def write_docs(r: dict) -> None:
    """Replace only the "## Analytics" section of docs/benchmarks.md."""
    rps = r["tracking_rps"]
    section = f"""## Analytics

`python -m bench.analytics` on {r["date"]}, {r["machine"]}, SQLite {sa.__version__ and _sqlite_version()},
PostgreSQL {r["pg_version"] or "not measured"}. {r["events"]:,} events over {r["campaigns"]} sent
campaigns ({r["deliveries"]:,} deliveries, coupons on every third campaign), generated by
`bench/seed_events.py`. Raw figures: `bench/results/analytics.json`. Targets from issue 7 in
brackets. A "dashboard load" is what the page does: an incremental `refresh_rollups` (nothing
new to fold) plus the reads; see docs/analytics.md for the rollup design.

| Measure | SQLite [< 1 s] | PostgreSQL [< 300 ms] | Naive GROUP BY over raw events (SQLite / PG) |
|---|---:|---:|---|
| Overview (100 campaigns, trend, audience, consent) | {_ms(r["overview_ms_sqlite"])} | {_ms(r["overview_ms_pg"])} | {_ms(r["naive_overview_ms_sqlite"])} / {_ms(r["naive_overview_ms_pg"])} (x{r["naive_ratio_overview_sqlite"]} / x{r["naive_ratio_overview_pg"]}) |
| Campaign dashboard (funnel, hourly series, top links, revenue, holdout lift, A/B variants) | {_ms(r["campaign_ms_sqlite"])} | {_ms(r["campaign_ms_pg"])} | {_ms(r["naive_campaign_ms_sqlite"])} / {_ms(r["naive_campaign_ms_pg"])} (x{r["naive_ratio_campaign_sqlite"]} / x{r["naive_ratio_campaign_pg"]}) |
| The same, first load after new clicks were folded (top links counted again from the raw clicks) | {_ms(r["campaign_after_fold_ms_sqlite"])} | {_ms(r["campaign_after_fold_ms_pg"])} | |
| Fold 10,000 new events | {_ms(r["refresh_10k_new_ms_sqlite"])} | {_ms(r["refresh_10k_new_ms_pg"])} | |
| Refresh with nothing new | {_ms(r["refresh_idle_ms_sqlite"])} | {_ms(r["refresh_idle_ms_pg"])} | |
| First build of the rollups from all events (one-off) | {r["rollup_build_s_sqlite"]} s | {r["rollup_build_s_pg"]} s | |

The naive overview computes only the per-campaign engagement counts (one GROUP BY with
COUNT(DISTINCT) over every event); the naive campaign load counts that campaign's raw events
(through the (campaign, type, time) index) instead of the rollups, and reads the same revenue,
holdout-lift and A/B cards. The measured campaign has two variants (A won after a 20% test),
a 10% holdout, visits with ticket amounts for a third of its customers within its 14-day lift
window and amounts on its redeemed coupons (`decorate_campaign`). Its top links are counted from
the raw click events (79,044 of them) on the first load after new events were folded, and kept
in the process for the loads after that until something is folded again (`reports.top_links`);
the second row times that first load (median of three rounds of 100 new clicks). Tracking endpoints throughput: {f"{rps:,.0f} requests/s (from bench/tracking_load.py)" if rps else "not measured here: bench/tracking_load.py (tracking endpoints) was not present when this ran, so `tracking_rps` is null"}.

Events are seeded in arrival (time) order, as a live system appends them. A first run with the
events in random physical order (every campaign's rows scattered over the whole table) gave
79 / 230 ms for the overview but 315 / 694 ms (SQLite / PG) for the campaign dashboard, the PG
figure over target: the campaign page's top-links query reads that campaign's click rows from
the event table (through the campaign index), so it depends on their locality; everything else
reads the rollups.
"""
    path = ROOT / "docs" / "benchmarks.md"
    text_ = path.read_text() if path.exists() else "# Benchmarks\n"
    start = text_.find("## Analytics")
    if start == -1:
        text_ = text_.rstrip() + "\n\n" + section
    else:
        end = text_.find("\n## ", start + 1)
        text_ = text_[:start] + section + ("" if end == -1 else text_[end + 1 :])
    path.write_text(text_)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _sqlite_version() -> str:
    import sqlite3

    return sqlite3.sqlite_version


if __name__ == "__main__":
    main()
