"""What the analytics pages read: one campaign's funnel, hours and links, and the overview.

Numbers come from the rollups (rollup.py) and a few live aggregates, never from events loaded
into Python. Definitions used everywhere:
- targeted: deliveries of the campaign (every status).
- sent: deliveries the provider accepted (status sent, delivered or bounced).
- rates are "of sent", with three exceptions: the delivered rate counts only messages sent
  through a provider that reports delivery (the development outbox never does), the open rate
  only emails (SMS has no opens), and the coupon redemption rate is redeemed coupons of coupons
  issued. A rate with nothing to divide by is None and shows as "–" with its `*_note`.
- unique opens/clicks count each recipient (delivery) once; totals count every event.
- opens and clicks are a person's by default: machine ones (proxies, scanners; see
  core/engagement.py) are counted apart (`*_machine_*`: recipients whose opens or clicks were
  all machine ones) and added in only when `include_machine` is asked for.
- since/until select event times [since, until) at whole-hour (UTC) granularity; delivery
  stages of one campaign are not date-filtered (its audience is frozen once).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, select
from sqlmodel import Session

from marketing_ui.core.analytics.hours import aware, hour_range, hour_start, to_hour, utc
from marketing_ui.core.analytics.queries import sql
from marketing_ui.core.analytics.rollup import (
    HUMAN_TYPES,
    NO_RECEIPTS,
    REPORTED_STATUSES,
    SENT_SERIES,
    SENT_STATUSES,
)
from marketing_ui.core.lru import LruCache
from marketing_ui.core.models import (
    Campaign,
    Channel,
    CouponStatus,
    DeliveryStatus,
    EventType,
)

ENGAGEMENT = (
    EventType.OPENED,
    EventType.CLICKED,
    EventType.COMPLAINED,
    EventType.UNSUBSCRIBED,
)
ENGAGEMENT_TYPES = [t.value for t in ENGAGEMENT] + list(HUMAN_TYPES.values())  # rollup types
OPENED_HUMAN = HUMAN_TYPES[EventType.OPENED.value]
CLICKED_HUMAN = HUMAN_TYPES[EventType.CLICKED.value]
MACHINE_ON = ("1", "true", "yes", "on")  # ?machine=1: count machine opens and clicks too
CHANNEL_CHOICES = ("all", Channel.EMAIL.value, Channel.SMS.value)
HELD_OUT = "held_out"  # the status funnel-deliveries gives the holdout group's rows


# Filters (the pages and the CSV export share them) -----------------------------------------


@dataclass(frozen=True)
class Filters:
    since: datetime | None
    until: datetime | None  # exclusive: the day after the chosen "to" date
    channel: str | None
    include_machine: bool = False  # count proxy and scanner opens/clicks as if people's


def parse_filters(
    since: str = "", until: str = "", channel: str = "", machine: str = ""
) -> Filters:
    """Dates as YYYY-MM-DD (UTC days, "to" inclusive), a channel, machine events on ("1") or
    off; junk means no filter."""
    return Filters(
        _day(since),
        _day(until, plus_one=True),
        channel if channel in CHANNEL_CHOICES[1:] else None,
        machine.strip().lower() in MACHINE_ON,
    )


def _day(value: str, plus_one: bool = False) -> datetime | None:
    try:
        day = datetime.strptime(value.strip()[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return day + timedelta(days=1) if plus_one else day


def _time_window(since: datetime | None, until: datetime | None) -> dict[str, object]:
    """:since and :until of a [since, until) condition; open ends compare against far bounds."""
    return {
        "since": utc(since) if since else datetime(1970, 1, 1, tzinfo=UTC),
        "until": utc(until) if until else datetime(9999, 1, 1, tzinfo=UTC),
    }


# One campaign -----------------------------------------------------------------------------


@dataclass
class Funnel:
    """One campaign's numbers on one channel (or all channels when channel is None)."""

    channel: str | None
    targeted: int = 0
    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    failed: int = 0
    skipped: int = 0
    held_back: int = 0  # of the skipped: held back by the frequency cap at the freeze
    held_out: int = 0  # the holdout group: never messaged by design, not targeted, not skipped
    queued: int = 0  # pending or in flight
    cancelled: int = 0
    opened_unique: int = 0  # people's, plus the machine ones when machine_included
    opened_total: int = 0
    clicked_unique: int = 0
    clicked_total: int = 0
    opened_machine_unique: int = 0  # recipients whose every open was a machine's
    opened_machine_total: int = 0  # machine opens
    clicked_machine_unique: int = 0
    clicked_machine_total: int = 0
    complaints: int = 0
    unsubscribes: int = 0
    coupons_issued: int = 0
    redeemed: int = 0
    email_sent: int = 0  # sent on the email channel: the messages that can be opened
    sent_without_receipts: int = 0  # sent through a provider that never reports delivery
    machine_included: bool = False  # the opens/clicks above include the machine ones

    def rate(self, count: int, of: int | None = None) -> float | None:
        """count / of (default: sent); None when there is nothing to divide by."""
        base = self.sent if of is None else of
        return count / base if base else None

    @property
    def delivered_rate(self) -> float | None:
        """Of the messages whose provider reports delivery; None when none does."""
        return self.rate(self.delivered, self.sent - self.sent_without_receipts)

    @property
    def delivered_note(self) -> str:
        """Why the delivered rate shows "–" ("" when it applies or nothing was sent)."""
        if self.sent and self.delivered_rate is None:
            return "the outbox provider does not report delivery"
        return ""

    @property
    def open_rate(self) -> float | None:
        """Of emails sent; None for SMS alone: text messages have no open pixel."""
        return self.rate(self.opened_unique, self.email_sent)

    @property
    def open_note(self) -> str:
        """Why the open rate shows "–" ("" when it applies or nothing was sent)."""
        return "SMS has no opens" if self.sent and not self.email_sent else ""

    @property
    def click_rate(self) -> float | None:
        return self.rate(self.clicked_unique)

    @property
    def hard_bounce_rate(self) -> float | None:
        """Hard bounces of messages sent (the deliverability guard's measure)."""
        return self.rate(self.bounced)

    @property
    def complaint_rate(self) -> float | None:
        """Spam complaints of emails sent; None for SMS alone (no complaints there)."""
        return self.rate(self.complaints, self.email_sent)

    @property
    def redemption_rate(self) -> float | None:
        """Redeemed coupons of coupons issued."""
        return self.rate(self.redeemed, self.coupons_issued)

    @property
    def opened_human_unique(self) -> int:
        return self.opened_unique - (self.opened_machine_unique if self.machine_included else 0)

    @property
    def clicked_human_unique(self) -> int:
        return self.clicked_unique - (self.clicked_machine_unique if self.machine_included else 0)

    def add(self, other: Funnel) -> None:
        for name in COUNT_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


COUNT_FIELDS = [f for f in Funnel.__dataclass_fields__ if f not in ("channel", "machine_included")]


@dataclass(frozen=True)
class FailureReason:
    channel: str
    status: str
    reason: str
    count: int


@dataclass
class CampaignReport:
    campaign_id: int
    funnel: Funnel  # all selected channels together
    by_channel: dict[str, Funnel] = field(default_factory=dict)  # only channels with deliveries
    failures: list[FailureReason] = field(default_factory=list)


def campaign_funnel(
    session: Session,
    campaign_id: int,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    include_machine: bool = False,
) -> CampaignReport:
    """The funnel of one campaign, overall and per channel, with failures by reason."""
    per: dict[str, Funnel] = {}

    def bucket(ch: str) -> Funnel:
        return per.setdefault(ch, Funnel(ch))

    params = {"cid": campaign_id, "channel": channel}
    for ch, status, n, no_receipts, held_back in session.execute(
        sql(session, "funnel-deliveries", channel), {**params, "no_receipts": NO_RECEIPTS}
    ):
        _add_delivery_status(bucket(ch), ch, status, n)
        bucket(ch).held_back += int(held_back or 0)
        if status in SENT_STATUSES:
            bucket(ch).sent_without_receipts += int(no_receipts or 0)
    lo, hi = hour_range(since, until)
    for ch, typ, total, uniq in session.execute(
        sql(session, "funnel-events", channel), {**params, "lo": lo, "hi": hi}
    ):
        _add_event_counts(bucket(ch), typ, int(total), int(uniq))
    _add_coupons(session, per, campaign_id, channel, since, until)
    failures = [
        FailureReason(ch, status, reason or "(no reason recorded)", n)
        for ch, status, reason, n in session.execute(
            sql(session, "funnel-failures", channel), params
        )
    ]
    for f in per.values():
        _settle_machine(f, include_machine)
    overall = Funnel(channel, machine_included=include_machine)
    for f in per.values():
        overall.add(f)
    by_channel = {ch: f for ch, f in sorted(per.items()) if f.targeted}
    return CampaignReport(campaign_id, overall, by_channel, failures)


def _add_delivery_status(f: Funnel, channel: str, status: str, n: int) -> None:
    if status == HELD_OUT:
        f.held_out += n
        return
    f.targeted += n
    if status in SENT_STATUSES:
        f.sent += n
        if channel == Channel.EMAIL:
            f.email_sent += n
    match status:
        case DeliveryStatus.DELIVERED:
            f.delivered += n
        case DeliveryStatus.BOUNCED:
            f.bounced += n
        case DeliveryStatus.FAILED:
            f.failed += n
        case DeliveryStatus.SKIPPED:
            f.skipped += n
        case DeliveryStatus.CANCELLED:
            f.cancelled += n
        case DeliveryStatus.PENDING | DeliveryStatus.INFLIGHT:
            f.queued += n


def _add_event_counts(f: Funnel, typ: str, total: int, uniq: int) -> None:
    """Fold one rollup row in; opens and clicks are people's and machine-so-far until settled.

    All opens go to the machine counts and human ones move out of them again, so after every
    row (in any order) machine = all - human; `_settle_machine` finishes the job.
    """
    match typ:
        case EventType.OPENED:
            f.opened_machine_total += total
            f.opened_machine_unique += uniq
        case EventType.CLICKED:
            f.clicked_machine_total += total
            f.clicked_machine_unique += uniq
        case _ if typ == OPENED_HUMAN:
            f.opened_total += total
            f.opened_unique += uniq
            f.opened_machine_total -= total
            f.opened_machine_unique -= uniq
        case _ if typ == CLICKED_HUMAN:
            f.clicked_total += total
            f.clicked_unique += uniq
            f.clicked_machine_total -= total
            f.clicked_machine_unique -= uniq
        case EventType.COMPLAINED:
            f.complaints += uniq
        case EventType.UNSUBSCRIBED:
            f.unsubscribes += uniq


def _settle_machine(f: Funnel, include_machine: bool) -> None:
    """Machine uniques are recipients with machine but no human opens (clicks) in the range.

    A date range can hold a recipient's first human open but not their earlier machine one;
    that difference would be negative and counts as 0.
    """
    f.opened_machine_unique = max(0, f.opened_machine_unique)
    f.clicked_machine_unique = max(0, f.clicked_machine_unique)
    f.machine_included = include_machine
    if include_machine:
        f.opened_unique += f.opened_machine_unique
        f.opened_total += f.opened_machine_total
        f.clicked_unique += f.clicked_machine_unique
        f.clicked_total += f.clicked_machine_total


def _add_coupons(
    session: Session,
    per: dict[str, Funnel],
    campaign_id: int,
    channel: str | None,
    since: datetime | None,
    until: datetime | None,
) -> None:
    """Issued and redeemed coupons (redeemed within the range), by the delivery's channel."""
    lo, hi = hour_range(since, until)
    rows = session.execute(
        sql(session, "funnel-coupons", channel),
        {
            "cid": campaign_id,
            "channel": channel,
            "redeemed": CouponStatus.REDEEMED.value,
            "lo": lo,
            "hi": hi,
        },
    )
    for ch, issued, redeemed in rows:
        f = per.setdefault(ch, Funnel(ch))
        f.coupons_issued += int(issued)
        f.redeemed += int(redeemed or 0)


@dataclass(frozen=True)
class HourPoint:
    hours_since_send: int
    opens: int  # people's, plus machine ones when asked for
    clicks: int
    redemptions: int
    machine_opens: int = 0
    machine_clicks: int = 0


def campaign_hourly(
    session: Session,
    campaign_id: int,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    max_hours: int = 24 * 14,
    include_machine: bool = False,
) -> list[HourPoint]:
    """Opens, clicks and redemptions by hour since the campaign's send (gaps filled with 0)."""
    sent_at = session.execute(
        select(Campaign.sent_at).where(Campaign.id == campaign_id)
    ).scalar_one_or_none()
    if sent_at is None:
        return []
    start = to_hour(utc(sent_at))
    lo, hi = hour_range(since, until)
    lo, hi = max(lo, start), min(hi, start + max_hours)
    params = {"cid": campaign_id, "channel": channel, "lo": lo, "hi": hi}
    column = {OPENED_HUMAN: 0, CLICKED_HUMAN: 1, "opened": 3, "clicked": 4}
    series: dict[
        int, list[int]
    ] = {}  # human opens, human clicks, redemptions, all opens, all clicks
    for typ, hour, total in session.execute(
        sql(session, "hourly-engagement", channel), {**params, "types": list(column)}
    ):
        series.setdefault(int(hour), [0] * 5)[column[typ]] += int(total)
    for hour, n in session.execute(sql(session, "hourly-redemptions", channel), params):
        series.setdefault(int(hour), [0] * 5)[2] += int(n)
    if not series:
        return []
    last = max(series)
    return [_hour_point(h - start, series.get(h, [0] * 5), include_machine)
            for h in range(max(lo, start), last + 1)]  # fmt: skip


def _hour_point(hours: int, row: list[int], include_machine: bool) -> HourPoint:
    human_opens, human_clicks, redemptions, opens, clicks = row
    if include_machine:
        return HourPoint(
            hours, opens, clicks, redemptions, opens - human_opens, clicks - human_clicks
        )
    return HourPoint(hours, human_opens, human_clicks, redemptions, opens - human_opens,
                     clicks - human_clicks)  # fmt: skip


@dataclass(frozen=True)
class LinkStat:
    url: str
    clicks: int  # people's, plus machine ones when asked for
    unique_clicks: int
    machine_clicks: int = 0


def top_links(
    session: Session,
    campaign_id: int,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 10,
    include_machine: bool = False,
) -> list[LinkStat]:
    """Most clicked links of one campaign by people (one index range scan of its clicks).

    When every event is folded, the count over the raw clicks is kept in this process next to
    the fold's watermark and the campaign's folded click totals (all and human): while they are
    unchanged no event was added and no click re-flagged machine, so the kept count is returned
    instead of scanning the clicks again.
    """
    lo, hi = hour_range(since, until)
    params = {
        "cid": campaign_id,
        "channel": channel,
        "limit": limit,
        "since": hour_start(max(lo, 0)),
        "until": hour_start(min(hi, 10**7)),
    }
    folded, newest, *clicks = (
        int(n or 0)
        for n in session.execute(sql(session, "top-links-version"), {"cid": campaign_id}).one()
    )
    all_folded = folded >= newest  # else a click may be in the raw events only: count them
    version = (folded, *clicks)
    where = (_database(session), campaign_id, channel, lo, hi, limit)
    kept = _LINKS.get(where) if all_folded else None
    rows = kept[1] if kept is not None and kept[0] == version else None
    if rows is None:
        rows = [tuple(r) for r in session.execute(sql(session, "top-links", channel), params)]
        if all_folded:
            _LINKS.put(where, (version, rows))
    return [
        LinkStat(url or "(no link)", int(n), int(u), int(n) - int(h))
        if include_machine
        else LinkStat(url or "(no link)", int(h), int(hu), int(n) - int(h))
        for url, n, u, h, hu in rows
    ]


# Kept top links: (database, campaign, channel, hours, limit) -> (version, rows).
_LINKS: LruCache[tuple[tuple, list]] = LruCache(256)


def _database(session: Session) -> str:
    """Which database (tests and tools open several in one process)."""
    return session.get_bind().url.render_as_string(hide_password=True)


def channels_sent(report: CampaignReport) -> list[str]:
    """Channels that carried at least one message; two means show them side by side."""
    return [
        ch
        for ch in (Channel.EMAIL.value, Channel.SMS.value)
        if ch in report.by_channel and report.by_channel[ch].sent
    ]


# Overview ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignFunnelRow:
    """One campaign's line in the overview: its funnel over the filters, from the rollups.

    Not campaigns.CampaignRow (a line of the campaign list, with live delivery counts).
    """

    campaign_id: int
    name: str
    channel: str
    sent_at: datetime | None
    funnel: Funnel


@dataclass(frozen=True)
class DayPoint:
    day: datetime
    sent: int
    opens: int  # people's, plus machine ones when asked for
    clicks: int
    machine_opens: int = 0
    machine_clicks: int = 0


@dataclass(frozen=True)
class AudiencePoint:
    day: datetime
    new_customers: int
    total_customers: int


@dataclass(frozen=True)
class ConsentPoint:
    day: datetime
    channel: str
    granted: int
    withdrawn: int


@dataclass
class Overview:
    campaigns: list[CampaignFunnelRow]
    trend: list[DayPoint]
    audience: list[AudiencePoint]
    consent: list[ConsentPoint]


def overview(
    session: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = None,
    include_machine: bool = False,
) -> Overview:
    """All reported campaigns sent in the range compared, plus daily trends, audience and consent."""
    return Overview(
        campaigns=campaign_rows(session, since, until, channel, include_machine),
        trend=daily_trend(session, since, until, channel, include_machine),
        audience=audience_growth(session, since, until),
        consent=consent_changes(session, since, until, channel),
    )


def campaign_rows(
    session: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = None,
    include_machine: bool = False,
) -> list[CampaignFunnelRow]:
    """One row per campaign sent in [since, until), newest first, from the tallies and rollups."""
    params = _time_window(since, until) | {"reported": [s.value for s in REPORTED_STATUSES]}
    campaigns = session.execute(
        sql(session, "overview-campaigns").columns(sent_at=DateTime(timezone=True)), params
    ).all()
    if not campaigns:
        return []
    ids = [c[0] for c in campaigns]
    funnels = {cid: Funnel(channel) for cid in ids}
    for cid, ch, metric, n in session.execute(
        sql(session, "overview-tallies", channel), {"ids": ids, "channel": channel}
    ):
        kind, _, status = metric.partition(":")
        f = funnels[cid]
        if kind == "delivery":
            _add_delivery_status(f, ch, status, int(n))
        elif kind == "receipts":
            f.sent_without_receipts += int(n)
        elif kind == "coupon":
            f.coupons_issued += int(n)
            if status == CouponStatus.REDEEMED:
                f.redeemed += int(n)
    lo, hi = hour_range(since, until)
    for cid, typ, total, uniq in session.execute(
        sql(session, "overview-engagement", channel),
        {
            "ids": ids,
            "types": ENGAGEMENT_TYPES,
            "lo": lo,
            "hi": hi,
            "channel": channel,
        },
    ):
        _add_event_counts(funnels[cid], typ, int(total), int(uniq))
    for f in funnels.values():
        _settle_machine(f, include_machine)
    return [
        CampaignFunnelRow(cid, name, ch, aware(sent_at), funnels[cid])
        for cid, name, ch, sent_at in campaigns
    ]


def daily_trend(
    session: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = None,
    include_machine: bool = False,
) -> list[DayPoint]:
    """Messages sent, opens and clicks (people's unless asked) per UTC day, all campaigns."""
    lo, hi = hour_range(since, until)
    days: dict[int, list[int]] = {}  # sent, human opens, human clicks, all opens, all clicks
    column = {SENT_SERIES: 0, OPENED_HUMAN: 1, CLICKED_HUMAN: 2, "opened": 3, "clicked": 4}
    for typ, day, total in session.execute(
        sql(session, "trend-daily", channel),
        {"types": list(column), "lo": lo, "hi": hi, "channel": channel},
    ):
        days.setdefault(int(day), [0] * 5)[column[typ]] += int(total)
    points = []
    for d in _day_span(days):
        sent, human_opens, human_clicks, opens, clicks = days.get(d, [0] * 5)
        shown = (opens, clicks) if include_machine else (human_opens, human_clicks)
        points.append(DayPoint(hour_start(d * 24), sent, *shown, opens - human_opens,
                               clicks - human_clicks))  # fmt: skip
    return points


def _day_span(days: Iterable[int]) -> list[int]:
    present = sorted(days)
    return list(range(present[0], present[-1] + 1)) if present else []


def audience_growth(
    session: Session, since: datetime | None = None, until: datetime | None = None
) -> list[AudiencePoint]:
    """New customers per UTC day and the running total (including customers before `since`)."""
    params = _time_window(since, until)
    base = 0
    if since:
        base = session.execute(
            sql(session, "audience-before"), {"since": params["since"]}
        ).scalar_one()
    counts = {int(d): int(n) for d, n in session.execute(sql(session, "audience-daily"), params)}
    points, running = [], int(base)
    for d in _day_span(counts):
        running += counts.get(d, 0)
        points.append(AudiencePoint(hour_start(d * 24), counts.get(d, 0), running))
    return points


def consent_changes(
    session: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = None,
) -> list[ConsentPoint]:
    """Consent granted and withdrawn per UTC day and channel."""
    params = _time_window(since, until) | {"channel": channel}
    rows = session.execute(sql(session, "consent-daily", channel), params)
    return [ConsentPoint(hour_start(int(d) * 24), ch, int(g), int(w)) for d, ch, g, w in rows]
