"""Holdout lift: did the customers who were messaged come back more than those held out?

For a campaign with a holdout group (core/sending/holdout.py), over a window after the send
(Campaign.lift_window_days, 1-90, default 14), per customer of each group:
- visit rate: the share with at least one visit (Visit rows; a redemption is a visit);
- visits: Visit rows in the window;
- revenue: the ticket amounts of those visits in the Settings currency (minor units).
"Messaged" is everyone picked to be messaged at the freeze, whether or not the message
arrived (intent to treat: dropping failed messages would compare unlike groups).

Lift is messaged minus held out, with a 95% interval: the normal approximation for a
difference of two means with unequal variances (Welch) for visits and revenue, the
two-proportion (Wald) interval for the visit rate. One SQL aggregate per campaign (queries.sql:
lift-groups) gives counts, sums and sums of squares; only the arithmetic is here.
docs/analytics.md ("Holdout lift") has the definitions and the simulation that checks them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from marketing_ui.core import audit, money
from marketing_ui.core.analytics.queries import sql
from marketing_ui.core.app_settings import money_settings
from marketing_ui.core.clock import as_utc, utcnow
from marketing_ui.core.models import Campaign

WINDOW_DAYS = (1, 90)
DEFAULT_WINDOW_DAYS = 14
MIN_GROUP = 30  # fewer customers than this in a group: too small to tell
Z95 = 1.959963984540054
METRICS = ("visit_rate", "visits", "revenue")
METRIC_LABELS = {
    "visit_rate": "Visit rate",
    "visits": "Visits per customer",
    "revenue": "Revenue per customer",
}
TOO_SMALL = "too small to tell"
NO_DIFFERENCE = "no measurable difference yet"


class LiftError(ValueError):
    """Bad input for the lift card; the message names the field."""


@dataclass(frozen=True)
class GroupSums:
    """One group's customers and the sums SQL returns for it."""

    customers: int = 0
    visitors: int = 0  # customers with at least one visit
    visits: int = 0
    visits_sq: int = 0
    revenue_minor: int = 0
    revenue_sq: int = 0

    def mean(self, metric: str) -> float | None:
        if not self.customers:
            return None
        total = {"visit_rate": self.visitors, "visits": self.visits}.get(metric)
        return (self.revenue_minor if total is None else total) / self.customers

    def variance(self, metric: str) -> float | None:
        """The sample variance of the per-customer value (a proportion's p(1-p) for the rate)."""
        n = self.customers
        if metric == "visit_rate":
            p = self.mean(metric)
            return None if p is None else p * (1 - p)
        if n < 2:
            return None
        total, squares = (
            (self.visits, self.visits_sq)
            if metric == "visits"
            else (self.revenue_minor, self.revenue_sq)
        )
        return max(0.0, (squares - total * total / n) / (n - 1))


@dataclass(frozen=True)
class Estimate:
    """One metric: the two means, the difference (messaged - held out) and its 95% interval."""

    metric: str
    messaged: float | None
    held_out: float | None
    difference: float | None
    low: float | None
    high: float | None
    verdict: str

    @property
    def relative(self) -> float | None:
        """The difference over the held-out mean (None when that mean is 0 or unknown)."""
        if self.difference is None or not self.held_out:
            return None
        return self.difference / self.held_out

    def covers(self, truth: float) -> bool:
        return self.low is not None and self.high is not None and self.low <= truth <= self.high


def estimate(metric: str, messaged: GroupSums, held_out: GroupSums) -> Estimate:
    """Difference of means with a normal-approximation 95% interval, and what it says."""
    m1, m0 = messaged.mean(metric), held_out.mean(metric)
    v1, v0 = messaged.variance(metric), held_out.variance(metric)
    if m1 is None or m0 is None:
        return Estimate(metric, m1, m0, None, None, None, TOO_SMALL)
    diff = m1 - m0
    if v1 is None or v0 is None:
        return Estimate(metric, m1, m0, diff, None, None, TOO_SMALL)
    half = Z95 * math.sqrt(v1 / messaged.customers + v0 / held_out.customers)
    low, high = diff - half, diff + half
    if min(messaged.customers, held_out.customers) < MIN_GROUP:
        verdict = TOO_SMALL
    elif low <= 0 <= high:
        verdict = NO_DIFFERENCE
    else:
        verdict = (
            "messaged customers came back more" if diff > 0 else "messaged customers came back less"
        )
    return Estimate(metric, m1, m0, diff, low, high, verdict)


@dataclass(frozen=True)
class Lift:
    """A campaign's holdout comparison over its window."""

    campaign_id: int
    holdout_percent: int
    window_days: int
    since: datetime | None  # the send's start; None before it was sent
    until: datetime | None
    currency: str
    messaged: GroupSums
    held_out: GroupSums
    estimates: dict[str, Estimate]

    @property
    def has_holdout(self) -> bool:
        return self.held_out.customers > 0

    @property
    def complete(self) -> bool:
        """True once the window has passed (the numbers will not move any more)."""
        return self.until is not None and self.until <= utcnow()

    @property
    def summary(self) -> str:
        """The sentence the card leads with."""
        if not self.has_holdout:
            return "No holdout group: nobody was held out of this send."
        if min(self.messaged.customers, self.held_out.customers) < MIN_GROUP:
            return (
                f"Too small to tell: {self.held_out.customers:,} held out and "
                f"{self.messaged.customers:,} messaged; each group needs at least {MIN_GROUP}."
            )
        return "Visit rate: " + self.estimates["visit_rate"].verdict + "."

    def shown(self, metric: str) -> dict[str, str]:
        """One metric as the card and the overview show it."""
        e = self.estimates[metric]

        def value(x: float | None, signed: bool = False) -> str:
            if x is None:
                return "–"
            sign = "+" if signed and x > 0 else ""
            if metric == "visit_rate":
                return f"{sign}{x * 100:.1f}%" if not signed else f"{sign}{x * 100:.1f} pts"
            if metric == "visits":
                return f"{sign}{x:.3f}"
            return sign + money.format_amount(
                money.from_minor(round(x), self.currency), self.currency
            )

        relative = e.relative
        return {
            "metric": metric,
            "label": METRIC_LABELS[metric],
            "messaged": value(e.messaged),
            "held_out": value(e.held_out),
            "difference": value(e.difference, signed=True),
            "relative": "–" if relative is None else f"{relative:+.0%}",
            "interval": "–"
            if e.low is None
            else f"{value(e.low, signed=True)} to {value(e.high, signed=True)}",
            "verdict": e.verdict,
        }

    def csv_rows(self) -> list[list[object]]:
        """One row per group and metric: group, metric, customers, mean, and the lift columns."""
        rows: list[list[object]] = []
        for metric in METRICS:
            e = self.estimates[metric]
            for group, sums, mean in (
                ("messaged", self.messaged, e.messaged),
                ("held_out", self.held_out, e.held_out),
            ):
                lifted = group == "messaged"
                rows.append(
                    [group, metric, sums.customers, _r(_unit(metric, mean, self.currency)),
                     _r(_unit(metric, e.difference, self.currency)) if lifted else "",
                     _r(_unit(metric, e.low, self.currency)) if lifted else "",
                     _r(_unit(metric, e.high, self.currency)) if lifted else "",
                     _r(e.relative) if lifted else "", e.verdict if lifted else "",
                     self.window_days, self.currency if metric == "revenue" else ""]
                )  # fmt: skip
        return rows


CSV_COLUMNS = (
    "group",
    "metric",
    "customers",
    "mean",
    "lift",
    "lift_low_95",
    "lift_high_95",
    "relative_lift",
    "verdict",
    "window_days",
    "currency",
)


def _unit(metric: str, x: float | None, currency: str) -> float | None:
    """Revenue in currency units (not minor units) for the CSV."""
    if x is None or metric != "revenue":
        return x
    return x / 10 ** money.currency(currency).exponent


def _r(x: float | None) -> str:
    return "" if x is None else f"{x:.4f}"


def window(campaign: Campaign) -> tuple[datetime | None, datetime | None]:
    """[sent_at, sent_at + lift_window_days) of a sent campaign; (None, None) before."""
    if campaign.sent_at is None:
        return None, None
    start = as_utc(campaign.sent_at)
    return start, start + timedelta(days=campaign.lift_window_days)


def group_sums(
    session: Session, campaign_id: int, since: datetime, until: datetime, currency: str
) -> tuple[GroupSums, GroupSums]:
    """(messaged, held out) sums for a campaign over [since, until), from one SQL aggregate."""
    found = {0: GroupSums(), 1: GroupSums()}
    for held, *numbers in session.execute(
        sql(session, "lift-groups"),
        {"cid": campaign_id, "since": since, "until": until, "currency": currency},
    ):
        found[int(held)] = GroupSums(*(int(x or 0) for x in numbers))
    return found[0], found[1]


def campaign_lift(session: Session, campaign_id: int) -> Lift | None:
    """The lift card's numbers, or None for an unknown campaign."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        return None
    currency = money_settings(session).currency
    since, until = window(campaign)
    messaged, held_out = (
        group_sums(session, campaign_id, since, until, currency)
        if since is not None and until is not None
        else (GroupSums(), GroupSums())
    )
    estimates = {m: estimate(m, messaged, held_out) for m in METRICS}
    return Lift(
        campaign_id,
        campaign.holdout_percent,
        campaign.lift_window_days,
        since,
        until,
        currency,
        messaged,
        held_out,
        estimates,
    )


def lifts_by_campaign(session: Session, campaign_ids: Sequence[int]) -> dict[int, Lift]:
    """The lift of each listed campaign that was sent with a holdout (the overview's column)."""
    out = {}
    for cid in campaign_ids:
        campaign = session.get(Campaign, cid)
        if campaign is None or campaign.holdout_percent <= 0 or campaign.sent_at is None:
            continue
        lift = campaign_lift(session, cid)
        if lift is not None and lift.has_holdout:
            out[cid] = lift
    return out


def parse_window(raw: object) -> int:
    """Whole days from 1 to 90; LiftError naming the field otherwise."""
    low, high = WINDOW_DAYS
    try:
        days = int(str(raw).strip())
    except ValueError:
        raise LiftError(
            f"Lift window: enter a whole number of days from {low} to {high}."
        ) from None
    if not low <= days <= high:
        raise LiftError(f"Lift window: must be from {low} to {high} days (got {days}).")
    return days


def save_window(session: Session, campaign_id: int, raw: object) -> Campaign:
    """Set the days after the send over which lift is measured (any status). Commits."""
    days = parse_window(raw)
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise LiftError(f"Campaign {campaign_id} does not exist.")
    if campaign.lift_window_days != days:
        campaign.lift_window_days = days
        session.add(campaign)
        audit.record(session, "campaign.lift_window", "campaign", campaign_id, f"{days} days")
    session.commit()
    session.refresh(campaign)
    return campaign
