"""Holdout lift: a hand-built campaign's numbers, bad input, and a simulation (issue 16
"Measured") that the 95% interval covers a known true lift in at least 90% of seeded runs."""

from __future__ import annotations

import math
import random
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from marketing_ui.core.analytics import lift
from marketing_ui.core.analytics.export import export_table
from marketing_ui.core.analytics.reports import Filters
from marketing_ui.core.models import Campaign, CampaignStatus, Customer, Delivery, Visit

SENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _customers(session: Session, n: int) -> list[int]:
    rows = [Customer(uid=f"c{i:031d}").model_dump(exclude={"id"}) for i in range(n)]
    session.execute(insert(Customer), rows)
    session.commit()
    return sorted(session.execute(select(Customer.id)).scalars())


def _campaign(session: Session, sent_at: datetime = SENT, percent: int = 20) -> int:
    campaign = Campaign(
        name="Monday special",
        status=CampaignStatus.SENT.value,
        sent_at=sent_at,
        holdout_percent=percent,
    )
    session.add(campaign)
    session.commit()
    assert campaign.id is not None
    return campaign.id


def _delivery(campaign_id: int, customer_id: int, status: str, reason: str = "") -> dict:
    return {"campaign_id": campaign_id, "customer_id": customer_id, "channel": "email",
            "status": status, "attempts": 0, "error": "", "skip_reason": reason,
            "wait_reason": "", "created_at": SENT, "updated_at": SENT}  # fmt: skip


def _visit(customer_id: int, at: datetime, amount: int | None = None, cur: str = "USD") -> dict:
    return {"customer_id": customer_id, "at": at, "source": "check_in", "created_at": at,
            "amount_minor": amount, "currency": cur if amount is not None else None}  # fmt: skip


def test_a_hand_built_campaign(session: Session) -> None:
    a, b, c, d, e, f, g, capped, failed = _customers(session, 9)
    cid = _campaign(session)
    session.execute(
        insert(Delivery),
        [_delivery(cid, x, "sent") for x in (a, b, c)]
        + [_delivery(cid, failed, "failed")]  # picked to be messaged: counts as messaged
        + [_delivery(cid, x, "skipped", "holdout") for x in (e, f, g)]
        + [_delivery(cid, capped, "skipped", "frequency_cap")],  # in neither group
    )
    day = timedelta(days=1)
    session.execute(
        insert(Visit),
        [
            _visit(a, SENT + day, 1000),
            _visit(a, SENT + 3 * day, 2000),
            _visit(b, SENT + 13 * day, 500),
            _visit(c, SENT + 2 * day, 900, cur="EUR"),  # a visit; not revenue in USD
            _visit(c, SENT + 15 * day, 7000),  # after the 14-day window
            _visit(d, SENT - day, 7000),  # before the send (d is not even a recipient)
            _visit(f, SENT + 5 * day, 4000),
            _visit(capped, SENT + day, 9000),
        ],
    )
    session.commit()

    result = lift.campaign_lift(session, cid)

    assert result is not None
    assert (result.messaged.customers, result.held_out.customers) == (4, 3)
    # messaged a, b, c, failed: visits 2, 1, 1, 0; revenue 3000, 500, 0, 0
    assert result.messaged == lift.GroupSums(4, 3, 4, 6, 3500, 9_250_000)
    assert result.held_out == lift.GroupSums(3, 1, 1, 1, 4000, 16_000_000)
    rate = result.estimates["visit_rate"]
    assert rate.difference == pytest.approx(3 / 4 - 1 / 3)
    half = lift.Z95 * math.sqrt(3 / 4 * 1 / 4 / 4 + 1 / 3 * 2 / 3 / 3)
    assert (rate.low, rate.high) == (
        pytest.approx(3 / 4 - 1 / 3 - half),
        pytest.approx(3 / 4 - 1 / 3 + half),
    )
    visits = result.estimates["visits"]
    assert (visits.messaged, visits.held_out) == (pytest.approx(1.0), pytest.approx(1 / 3))
    half = lift.Z95 * math.sqrt((6 - 16 / 4) / 3 / 4 + (1 - 1 / 3) / 2 / 3)
    assert visits.high - visits.difference == pytest.approx(half)
    revenue = result.estimates["revenue"]
    assert revenue.difference == pytest.approx(875 - 4000 / 3)
    assert revenue.relative == pytest.approx((875 - 4000 / 3) / (4000 / 3))
    assert {e.verdict for e in result.estimates.values()} == {lift.TOO_SMALL}
    assert result.summary.startswith("Too small to tell: 3 held out and 4 messaged")
    shown = result.shown("revenue")
    assert (shown["messaged"], shown["held_out"], shown["difference"]) == (
        "$8.75",
        "$13.33",
        "−$4.58",
    )
    assert result.shown("visit_rate")["messaged"] == "75.0%"

    header, rows = export_table(session, "lift", Filters(None, None, None), cid)
    assert header == list(lift.CSV_COLUMNS)
    assert [r[:4] for r in rows] == [
        ["messaged", "visit_rate", 4, "0.7500"],
        ["held_out", "visit_rate", 3, "0.3333"],
        ["messaged", "visits", 4, "1.0000"],
        ["held_out", "visits", 3, "0.3333"],
        ["messaged", "revenue", 4, "8.7500"],
        ["held_out", "revenue", 3, "13.3333"],
    ]
    assert rows[4][4] == f"{8.75 - 40 / 3:.4f}"

    header, rows = export_table(session, "campaigns", Filters(None, None, None))
    [row] = [dict(zip(header, r, strict=True)) for r in rows if r[0] == cid]
    assert row["visit_rate_lift"] == f"{3 / 4 - 1 / 3:.4f}"
    assert row["visit_rate_lift_low_95"] == f"{rate.low:.4f}"
    assert row["visit_rate_lift_high_95"] == f"{rate.high:.4f}"
    assert row["lift_verdict"].startswith("Too small to tell")

    lift.save_window(session, cid, "30")  # the later visit of c now counts
    longer = lift.campaign_lift(session, cid)
    assert longer is not None
    assert longer.messaged.revenue_minor == 10_500


def test_a_campaign_without_holdout_or_not_sent_says_so(session: Session) -> None:
    [a] = _customers(session, 1)
    cid = _campaign(session, percent=0)
    session.execute(insert(Delivery), [_delivery(cid, a, "sent")])
    session.commit()
    result = lift.campaign_lift(session, cid)
    assert result is not None and not result.has_holdout
    assert result.summary.startswith("No holdout group")
    draft = Campaign(name="Draft")
    session.add(draft)
    session.commit()
    assert lift.campaign_lift(session, draft.id).since is None
    assert lift.lifts_by_campaign(session, [cid, draft.id]) == {}
    header, rows = export_table(session, "campaigns", Filters(None, None, None))
    [row] = [dict(zip(header, r, strict=True)) for r in rows if r[0] == cid]
    assert row["visit_rate_lift"] == row["lift_verdict"] == ""


def test_verdicts_say_no_difference_or_a_real_one() -> None:
    same = lift.GroupSums(400, 100, 100, 100, 0, 0)
    assert lift.estimate("visit_rate", same, same).verdict == lift.NO_DIFFERENCE
    more = lift.GroupSums(400, 200, 200, 200, 0, 0)
    assert lift.estimate("visit_rate", more, same).verdict == "messaged customers came back more"
    assert lift.estimate("visit_rate", same, more).verdict == "messaged customers came back less"
    assert lift.estimate("visit_rate", more, lift.GroupSums(29, 1, 1, 1)).verdict == lift.TOO_SMALL


@pytest.mark.parametrize("raw", ["0", "91", "-3", "two", "1.5", ""])
def test_a_bad_window_is_refused_naming_the_field(session: Session, raw: str) -> None:
    cid = _campaign(session)
    with pytest.raises(lift.LiftError, match="^Lift window: "):
        lift.save_window(session, cid, raw)
    session.expire_all()
    assert session.get(Campaign, cid).lift_window_days == 14


# The simulation ------------------------------------------------------------------------------

SEEDS = 200
CUSTOMERS = 2_000
HOLDOUT = 0.2
SLOTS = 3  # each customer has 3 chances to visit in the window, each with probability q
Q_HELD, Q_MESSAGED = 0.10, 0.13  # the campaign's true effect: 0.10 -> 0.13 per chance
TICKET = (1_000, 6_000)  # whole cents, uniform: mean 3,500


def _truth(metric: str) -> float:
    """messaged minus held out, from the model (not from any sample)."""
    mean_ticket = sum(TICKET) / 2

    def value(q: float) -> float:
        return {
            "visit_rate": 1 - (1 - q) ** SLOTS,
            "visits": SLOTS * q,
            "revenue": SLOTS * q * mean_ticket,
        }[metric]

    return value(Q_MESSAGED) - value(Q_HELD)


def test_simulation_the_interval_covers_the_true_lift(sqlite_engine: Engine) -> None:
    """200 seeded campaigns of 2,000 customers, 20% held out, a known effect; every number
    computed by the same SQL and arithmetic the page uses. Coverage is printed (-s)."""
    started = time.monotonic()
    with Session(sqlite_engine) as session:
        customers = _customers(session, CUSTOMERS)
        campaign_ids, deliveries, visits = [], [], []
        for seed in range(SEEDS):
            rng = random.Random(seed)
            sent_at = SENT + timedelta(days=20 * seed)  # windows never overlap
            cid = _campaign(session, sent_at=sent_at)
            campaign_ids.append(cid)
            for customer in customers:
                held = rng.random() < HOLDOUT
                deliveries.append(
                    _delivery(cid, customer, "skipped", "holdout")
                    if held
                    else _delivery(cid, customer, "sent")
                )
                q = Q_HELD if held else Q_MESSAGED
                for _ in range(SLOTS):
                    if rng.random() < q:
                        at = sent_at + timedelta(seconds=rng.uniform(0, 14 * 86_400 - 1))
                        visits.append(_visit(customer, at, rng.randint(*TICKET)))
        session.execute(insert(Delivery), deliveries)
        session.execute(insert(Visit), visits)
        session.commit()
        built = time.monotonic() - started
        covered = dict.fromkeys(lift.METRICS, 0)
        for cid in campaign_ids:
            result = lift.campaign_lift(session, cid)
            assert result is not None
            for metric in lift.METRICS:
                covered[metric] += result.estimates[metric].covers(_truth(metric))
    coverage = {m: covered[m] / SEEDS for m in lift.METRICS}
    elapsed = time.monotonic() - started
    print(f"\nlift coverage over {SEEDS} seeds x {CUSTOMERS} customers: {coverage} "
          f"(data {built:.1f} s, total {elapsed:.1f} s)")  # fmt: skip
    assert all(c >= 0.90 for c in coverage.values()), coverage
    assert elapsed < 40
