"""CSV export: the rows behind each chart, one entry per table in OVERVIEW or CAMPAIGN.

A table is its CSV columns and a function reading its rows through reports.py, so the export
always serves the numbers the charts are drawn from. Adding a table is adding an entry.
Opens and clicks are people's unless the filters include machine ones; the machine ones are
always in their own columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlmodel import Session

from marketing_ui.core.analytics import ab, lift, reports, revenue
from marketing_ui.core.analytics.reports import COUNT_FIELDS, Filters
from marketing_ui.core.models import Campaign

Rows = Iterable[Sequence[object]]


@dataclass(frozen=True)
class OverviewTable:
    columns: tuple[str, ...]
    rows: Callable[[Session, Filters], Rows]


@dataclass(frozen=True)
class CampaignTable:
    columns: tuple[str, ...]
    rows: Callable[[Session, Filters, int], Rows]


def _r(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _campaigns(session: Session, f: Filters) -> Rows:
    rows = reports.campaign_rows(session, f.since, f.until, f.channel, f.include_machine)
    earned = revenue.earnings_by_campaign(session, [r.campaign_id for r in rows], f.channel)
    lifts = lift.lifts_by_campaign(session, [r.campaign_id for r in rows])
    for r in rows:
        fn, e = r.funnel, earned[r.campaign_id]
        yield [r.campaign_id, r.name, r.sent_at.isoformat() if r.sent_at else "", fn.sent,
               _r(fn.delivered_rate), _r(fn.open_rate), _r(fn.click_rate),
               _r(fn.redemption_rate), fn.unsubscribes, e.counts.redemptions,
               *e.csv_values(), fn.opened_human_unique,
               fn.opened_machine_unique, fn.clicked_human_unique, fn.clicked_machine_unique,
               int(fn.machine_included), *_visit_lift(lifts.get(r.campaign_id))]  # fmt: skip


def _visit_lift(found: lift.Lift | None) -> list[object]:
    """The overview's lift column: visit-rate difference, its 95% interval, the verdict."""
    if found is None:  # no holdout (or not sent yet)
        return ["", "", "", ""]
    e = found.estimates["visit_rate"]
    return [_r(e.difference), _r(e.low), _r(e.high), found.summary]


def _redemptions(session: Session, f: Filters) -> Rows:
    for r in reports.campaign_rows(session, f.since, f.until, f.channel):
        if r.funnel.coupons_issued:
            yield [r.campaign_id, r.name, r.funnel.coupons_issued, r.funnel.redeemed,
                   _r(r.funnel.redemption_rate)]  # fmt: skip


def _trend(session: Session, f: Filters) -> Rows:
    for p in reports.daily_trend(session, f.since, f.until, f.channel, f.include_machine):
        yield [p.day.date().isoformat(), p.sent, p.opens, p.clicks, p.machine_opens,
               p.machine_clicks]  # fmt: skip


def _audience(session: Session, f: Filters) -> Rows:
    for p in reports.audience_growth(session, f.since, f.until):
        yield [p.day.date().isoformat(), p.new_customers, p.total_customers]


def _consent(session: Session, f: Filters) -> Rows:
    for p in reports.consent_changes(session, f.since, f.until, f.channel):
        yield [p.day.date().isoformat(), p.channel, p.granted, p.withdrawn]


def _funnel(session: Session, f: Filters, campaign_id: int) -> Rows:
    report = reports.campaign_funnel(
        session, campaign_id, f.channel, f.since, f.until, f.include_machine
    )
    for fn in (report.funnel, *report.by_channel.values()):
        yield [fn.channel or "all", *(getattr(fn, c) for c in COUNT_FIELDS),
               _r(fn.delivered_rate), _r(fn.open_rate), _r(fn.click_rate),
               _r(fn.redemption_rate), int(fn.machine_included)]  # fmt: skip


def _hourly(session: Session, f: Filters, campaign_id: int) -> Rows:
    for p in reports.campaign_hourly(
        session, campaign_id, f.channel, f.since, f.until, include_machine=f.include_machine
    ):
        yield [p.hours_since_send, p.opens, p.clicks, p.redemptions, p.machine_opens,
               p.machine_clicks]  # fmt: skip


def _links(session: Session, f: Filters, campaign_id: int) -> Rows:
    for x in reports.top_links(
        session, campaign_id, f.channel, f.since, f.until, 100, f.include_machine
    ):
        yield [x.url, x.clicks, x.unique_clicks, x.machine_clicks]


def _revenue(session: Session, f: Filters, campaign_id: int) -> Rows:
    e = revenue.campaign_earnings(session, campaign_id, f.channel)
    c = e.counts
    yield [e.currency, c.redemptions, c.with_amount, c.recipients, c.emails, c.sms_segments,
           *e.csv_values()]  # fmt: skip


def _lift(session: Session, f: Filters, campaign_id: int) -> Rows:
    """Messaged vs held out over the campaign's lift window (the date filters do not apply)."""
    result = lift.campaign_lift(session, campaign_id)
    return result.csv_rows() if result is not None and result.has_holdout else []


def _ab(session: Session, f: Filters, campaign_id: int) -> Rows:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        return
    for v in ab.ab_report(session, campaign).variants:
        yield [v.label, v.delivered, v.clickers, _r(v.click.rate), _r(v.click.low),
               _r(v.click.high), v.redeemers, _r(v.redemption.rate), _r(v.redemption.low),
               _r(v.redemption.high), "" if v.versus_best is None else f"{v.versus_best.p_value:.4f}",
               v.verdict, "yes" if v.is_winner else ""]  # fmt: skip


def _failures(session: Session, f: Filters, campaign_id: int) -> Rows:
    report = reports.campaign_funnel(session, campaign_id, f.channel, f.since, f.until)
    for x in report.failures:
        yield [x.channel, x.status, x.reason, x.count]


RATE_COLUMNS = ("delivered_rate", "open_rate", "click_rate", "redemption_rate")
MACHINE_INCLUDED = "machine_included"  # 1 when opens, clicks and rates count machine ones too
OVERVIEW: dict[str, OverviewTable] = {  # the /analytics page's tables, in its order
    "campaigns": OverviewTable(
        (
            "campaign_id",
            "name",
            "sent_at",
            "sent",
            *RATE_COLUMNS,
            "unsubscribes",
            *revenue.CSV_COLUMNS,
            "opened_human_unique",
            "opened_machine_unique",
            "clicked_human_unique",
            "clicked_machine_unique",
            MACHINE_INCLUDED,
            "visit_rate_lift",
            "visit_rate_lift_low_95",
            "visit_rate_lift_high_95",
            "lift_verdict",
        ),
        _campaigns,
    ),  # fmt: skip
    "trend": OverviewTable(
        ("day", "sent", "opens", "clicks", "machine_opens", "machine_clicks"), _trend
    ),
    "audience": OverviewTable(("day", "new_customers", "total_customers"), _audience),
    "consent": OverviewTable(("day", "channel", "granted", "withdrawn"), _consent),
    "redemptions": OverviewTable(
        ("campaign_id", "name", "coupons_issued", "redeemed", "redemption_rate"), _redemptions
    ),
}
CAMPAIGN: dict[str, CampaignTable] = {  # one campaign's page (needs a campaign_id)
    "funnel": CampaignTable(("channel", *COUNT_FIELDS, *RATE_COLUMNS, MACHINE_INCLUDED), _funnel),
    "hourly": CampaignTable(
        ("hours_since_send", "opens", "clicks", "redemptions", "machine_opens", "machine_clicks"),
        _hourly,
    ),
    "links": CampaignTable(("url", "clicks", "unique_clicks", "machine_clicks"), _links),
    "failures": CampaignTable(("channel", "status", "reason", "count"), _failures),
    "ab": CampaignTable(
        (
            "variant",
            "delivered",
            "unique_clickers",
            "click_rate",
            "click_rate_low95",
            "click_rate_high95",
            "redemptions",
            "redemption_rate",
            "redemption_rate_low95",
            "redemption_rate_high95",
            "p_value_vs_best",
            "verdict",
            "winner",
        ),
        _ab,
    ),
    "revenue": CampaignTable(
        (
            "currency",
            "redemptions",
            "with_amount",
            "recipients",
            "emails",
            "sms_segments",
            *revenue.CSV_COLUMNS[1:],
        ),
        _revenue,
    ),
    "lift": CampaignTable(lift.CSV_COLUMNS, _lift),
}
OVERVIEW_TABLES = tuple(OVERVIEW)
CAMPAIGN_TABLES = tuple(CAMPAIGN)


def export_table(
    session: Session, name: str, filters: Filters, campaign_id: int | None = None
) -> tuple[list[str], list[list[object]]] | None:
    """The rows behind one chart, for CSV export; None for an unknown table name."""
    if name in OVERVIEW:
        columns, rows = OVERVIEW[name].columns, OVERVIEW[name].rows(session, filters)
    elif name in CAMPAIGN and campaign_id is not None:
        columns, rows = CAMPAIGN[name].columns, CAMPAIGN[name].rows(session, filters, campaign_id)
    else:
        return None
    return list(columns), [list(row) for row in rows]
