"""An A/B test's numbers per variant: reached, unique human clickers, redeemers, their rates with
95% Wilson intervals, and whether each variant differs from the best for real (z-test, p < 0.05).

Counted over the test share only (deliveries frozen before the decision): the rest all got the
winner later, so adding them would compare groups sent at different times. The decision
(core/ab_tests.py) reads the same numbers, through `variant_totals` and `pick_winner`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session

from marketing_ui.core import statuses
from marketing_ui.core.analytics.queries import sql
from marketing_ui.core.analytics.stats import (
    Interval,
    ZTest,
    two_proportion_z_test,
    wilson_interval,
)
from marketing_ui.core.clock import as_utc
from marketing_ui.core.models import AbMetric, Campaign

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)  # "until" of a test not decided yet
TIE_NOTE = "A tie, or no clicks or redemptions at all, keeps variant A (the original)."


@dataclass(frozen=True)
class VariantTotals:
    """What one variant's test share did: recipients reached, clickers, redeemers."""

    variant_id: int
    label: str
    delivered: int
    clickers: int
    redeemers: int

    def successes(self, metric: str) -> int:
        return self.redeemers if metric == AbMetric.REDEMPTIONS else self.clickers


def variant_totals(session: Session, campaign: Campaign) -> list[VariantTotals]:
    """Per variant, A first; counted in SQL over the test share."""
    until = as_utc(campaign.ab_decided_at) if campaign.ab_decided_at else FAR_FUTURE
    rows = session.execute(
        sql(session, "ab-variant-totals"),
        {
            "cid": campaign.id,
            "until": until,
            "reached": statuses.values(statuses.REACHED),
        },
    ).all()
    return [VariantTotals(int(i), str(lbl), int(d), int(c), int(r)) for i, lbl, d, c, r in rows]


def pick_winner(totals: list[VariantTotals], metric: str) -> tuple[int | None, str]:
    """(winning variant id, why): the best rate per recipient reached; a tie or no data -> A."""
    if not totals:
        return None, "No variants."
    first = totals[0]

    def better(a: VariantTotals, b: VariantTotals) -> int:
        """Compare rates exactly (cross-multiplied): >0 when a is better."""
        return a.successes(metric) * b.delivered - b.successes(metric) * a.delivered

    best = [first]
    for t in totals[1:]:
        if t.delivered == 0:
            continue
        if best[0].delivered == 0 or better(t, best[0]) > 0:
            best = [t]
        elif better(t, best[0]) == 0:
            best.append(t)
    top = best[0]
    if top.delivered == 0 or top.successes(metric) == 0:
        return first.variant_id, f"No {metric} yet: variant {first.label} (the original) wins."
    if len(best) > 1:
        tied = ", ".join(t.label for t in best)
        return first.variant_id, f"Variants {tied} tied: variant {first.label} (the original) wins."
    rate = top.successes(metric) / top.delivered
    return top.variant_id, f"Variant {top.label} had the most {metric} per recipient ({rate:.1%})."


@dataclass(frozen=True)
class VariantResult:
    """One variant's line on the analytics card."""

    variant_id: int
    label: str
    delivered: int
    clickers: int
    redeemers: int
    click: Interval
    redemption: Interval
    versus_best: ZTest | None  # on the campaign's metric; None for the best itself
    is_best: bool
    is_winner: bool

    @property
    def verdict(self) -> str:
        """Against the best variant: is the difference real yet?"""
        if self.versus_best is None:
            return "best so far"
        p = self.versus_best.p_value
        shown = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
        if self.versus_best.significant:
            return f"the difference is real ({shown})"
        return f"not yet (p = {p:.2f})"


@dataclass(frozen=True)
class AbReport:
    """A campaign's A/B test on its analytics page (empty `variants`: no test)."""

    metric: str
    phase: str
    percent: int
    window_hours: int
    winner_label: str
    variants: list[VariantResult]

    @property
    def has_test(self) -> bool:
        return bool(self.variants)


def ab_report(session: Session, campaign: Campaign) -> AbReport:
    """The per-variant numbers, the best on the campaign's metric, and each one's verdict."""
    metric = campaign.ab_metric or AbMetric.CLICKS.value
    totals = variant_totals(session, campaign) if campaign.ab_phase else []
    best_id, _ = pick_winner(totals, metric)
    best = next((t for t in totals if t.variant_id == best_id), None)
    results = []
    for t in totals:
        versus = None
        if best is not None and t.variant_id != best.variant_id:
            versus = two_proportion_z_test(
                best.successes(metric), best.delivered, t.successes(metric), t.delivered
            )
        results.append(
            VariantResult(
                t.variant_id,
                t.label,
                t.delivered,
                t.clickers,
                t.redeemers,
                wilson_interval(t.clickers, t.delivered),
                wilson_interval(t.redeemers, t.delivered),
                versus,
                t.variant_id == best_id,
                t.variant_id == campaign.ab_winner_variant_id,
            )
        )
    winner = next((r.label for r in results if r.is_winner), "")
    return AbReport(
        metric,
        campaign.ab_phase,
        campaign.ab_test_percent,
        campaign.ab_window_hours,
        winner,
        results,
    )
