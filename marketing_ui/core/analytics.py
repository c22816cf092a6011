"""Campaign analytics: funnels, time series, links and the overview, all from SQL aggregates.

Events are folded incrementally into small rollup tables (see docs/analytics.md):
`campaign_stat_hourly` (total and unique events per campaign, channel, type and UTC hour),
`delivery_first_event` (the hour of each delivery's first event of a type, which makes unique
counts additive) and `campaign_tally` (delivery and coupon counts by status per campaign).
`refresh_rollups` folds new Event rows past a watermark on Event.id; it is idempotent and cheap
when nothing is new, so dashboards call it before reading. Redemptions are read from the Coupon
table (an undone redemption deletes its event, which an append-only fold could not see).

Definitions used everywhere:
- targeted: deliveries of the campaign (every status).
- sent: deliveries the provider accepted (status sent, delivered or bounced).
- rates are "of sent", with three exceptions: the delivered rate counts only messages sent
  through a provider that reports delivery (the development outbox never does), the open rate
  only emails (SMS has no opens), and the coupon redemption rate is redeemed coupons of coupons
  issued. A rate with nothing to divide by is None and shows as "–" with its `*_note`.
- unique opens/clicks count each recipient (delivery) once; totals count every event.
- since/until select event times [since, until) at whole-hour (UTC) granularity; delivery
  stages of one campaign are not date-filtered (its audience is frozen once).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, bindparam, select, text
from sqlalchemy.sql.elements import TextClause
from sqlmodel import Session

from marketing_ui.core.models import (
    OUTBOX_PROVIDER_ID_PREFIX,
    AnalyticsWatermark,
    Campaign,
    CampaignStatus,
    Channel,
    CouponStatus,
    DeliveryStatus,
    EventType,
    utcnow,
)

FOLD_BATCH = 500_000  # event ids folded per statement group, bounding each transaction
PG_SETTLE_S = 2.0  # PostgreSQL ids can commit out of order; fold an id range only once settled
SENT_SERIES = "delivery_sent"  # rollup type recomputed from Delivery.sent_at (not an Event type)
SENT_STATUSES = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.BOUNCED)
ENGAGEMENT = (
    EventType.OPENED,
    EventType.CLICKED,
    EventType.COMPLAINED,
    EventType.UNSUBSCRIBED,
)
LIVE_CAMPAIGN_STATUSES = (CampaignStatus.SENDING, CampaignStatus.PAUSED)
TALLY_MARKER = "tallied:2"  # a new name re-tallies every campaign once (receipts were added)
REPORTED_STATUSES = (
    CampaignStatus.SENDING,
    CampaignStatus.PAUSED,
    CampaignStatus.SENT,
    CampaignStatus.CANCELLED,
    CampaignStatus.FAILED,
)


# Dialect-aware SQL pieces ---------------------------------------------------------


def hour_sql(dialect: str, column: str) -> str:
    """Whole hours since 1970 UTC of a timestamp column, as an integer, computed in SQL."""
    if dialect == "postgresql":
        return f"CAST(floor(extract(epoch FROM {column}) / 3600) AS bigint)"
    if dialect == "sqlite":
        return f"(CAST(strftime('%s', {column}) AS INTEGER) / 3600)"
    raise NotImplementedError(f"analytics supports SQLite and PostgreSQL, not {dialect}")


def day_sql(dialect: str, column: str) -> str:
    """Whole days since 1970 UTC of a timestamp column."""
    return f"({hour_sql(dialect, column)} / 24)"


def to_hour(moment: datetime) -> int:
    """The hour bucket of a Python datetime (naive values are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() // 3600)


def hour_start(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, tz=UTC)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    """Timestamps read back from SQLite are naive UTC."""
    return None if moment is None else _utc(moment)


def _when(name: str):  # noqa: ANN202 - a SQLAlchemy bind parameter
    """A timestamp bind stored the way the ORM stores it (SQLite compares them as text)."""
    return bindparam(name, type_=DateTime(timezone=True))


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _hour_range(since: datetime | None, until: datetime | None) -> tuple[int, int]:
    lo = to_hour(since) if since else -(2**40)
    hi = to_hour(until) if until else 2**40
    return lo, hi


def _channel_clause(alias: str, channel: str | None) -> str:
    return f" AND {alias}.channel = :channel" if channel else ""


# The fold ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshResult:
    events_folded: int  # size of the id range folded (ids, not necessarily rows)
    campaigns_tallied: int
    last_event_id: int


def refresh_rollups(session: Session, settle_s: float | None = None) -> RefreshResult:
    """Fold new events into the rollups and recount changed campaigns; commits; idempotent.

    Serialized by a row lock on the watermark (PostgreSQL) or the write lock (SQLite), so
    concurrent callers never fold the same range twice.
    """
    dialect = _dialect(session)
    if settle_s is None:
        settle_s = PG_SETTLE_S if dialect == "postgresql" else 0.0
    now = utcnow()
    _ensure_watermarks(session)
    # The first statement writes, so the lock is held for the whole fold.
    session.execute(
        text("UPDATE analytics_watermark SET refreshed_at = :now WHERE name = 'event'").bindparams(
            _when("now")
        ),
        {"now": now},
    )
    marks = {
        row.name: row
        for row in session.execute(
            select(
                AnalyticsWatermark.name,
                AnalyticsWatermark.last_id,
                AnalyticsWatermark.pending_id,
                AnalyticsWatermark.pending_at,
                AnalyticsWatermark.refreshed_at,
            ).execution_options(populate_existing=True)
        )
    }
    last_id, pending_id = marks["event"].last_id, marks["event"].pending_id
    pending_at, last_tally_at = marks["event"].pending_at, marks["tally"].refreshed_at
    last_redemption_id = marks["tally"].last_id
    max_id = session.execute(text("SELECT coalesce(max(id), 0) FROM event")).scalar_one()
    target = _settled_target(
        session, last_id, pending_id, _aware(pending_at), max_id, now, settle_s
    )
    start = last_id
    dirty: set[int] = set()
    while start < target:
        stop = min(target, start + FOLD_BATCH)
        dirty.update(_fold_events(session, dialect, start, stop))
        start = stop
    session.execute(
        text("UPDATE analytics_watermark SET last_id = :t WHERE name = 'event'"), {"t": target}
    )
    max_redemption_id = session.execute(
        text("SELECT coalesce(max(id), 0) FROM redemption")
    ).scalar_one()
    dirty.update(_campaigns_needing_tally(session, _aware(last_tally_at), last_redemption_id))
    _retally(session, dialect, sorted(dirty))
    session.execute(
        text(
            "UPDATE analytics_watermark SET refreshed_at = :now, last_id = :rid "
            "WHERE name = 'tally'"
        ).bindparams(_when("now")),
        {"now": now, "rid": max_redemption_id},
    )
    session.commit()
    return RefreshResult(target - last_id, len(dirty), target)


def _ensure_watermarks(session: Session) -> None:
    for name in ("event", "tally"):
        exists = session.execute(
            text("SELECT 1 FROM analytics_watermark WHERE name = :n"), {"n": name}
        ).first()
        if exists is None:
            session.execute(
                text(
                    "INSERT INTO analytics_watermark (name, last_id) VALUES (:n, 0) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                {"n": name},
            )


def _settled_target(
    session: Session,
    last_id: int,
    pending_id: int | None,
    pending_at: datetime | None,
    max_id: int,
    now: datetime,
    settle_s: float,
) -> int:
    """How far it is safe to fold: ids seen at least `settle_s` ago (all of them when 0)."""
    if settle_s <= 0:
        target = max_id
    elif pending_id is not None and pending_id > last_id and pending_at is not None:
        target = pending_id if pending_at <= now - timedelta(seconds=settle_s) else last_id
    else:
        target = last_id
    if target != last_id or pending_id is None or pending_id <= last_id:
        session.execute(
            text(
                "UPDATE analytics_watermark SET pending_id = :p, pending_at = :at "
                "WHERE name = 'event'"
            ).bindparams(_when("at")),
            {"p": max_id, "at": now},
        )
    return target


def _fold_events(session: Session, dialect: str, lo: int, hi: int) -> set[int]:
    """Add events with lo < id <= hi to the hourly totals and first-seen uniques."""
    hour = hour_sql(dialect, "created_at")
    # Inlined integers: PostgreSQL's CREATE TABLE AS takes no bind parameters.
    span = f"id > {int(lo)} AND id <= {int(hi)}"
    batch = f"FROM event WHERE {span} AND campaign_id IS NOT NULL AND type <> 'redeemed'"
    dirty = {
        row[0]
        for row in session.execute(text(f"SELECT DISTINCT campaign_id FROM event WHERE {span}"))
        if row[0] is not None
    }
    session.execute(
        text(
            "INSERT INTO campaign_stat_hourly (campaign_id, channel, type, hour, total, uniq) "
            f"SELECT campaign_id, channel, type, {hour}, count(*), 0 {batch} "
            f"GROUP BY campaign_id, channel, type, {hour} "
            "ON CONFLICT (campaign_id, channel, type, hour) "
            "DO UPDATE SET total = campaign_stat_hourly.total + excluded.total"
        )
    )
    session.execute(text("DROP TABLE IF EXISTS fold_first"))
    session.execute(
        text(
            "CREATE TEMP TABLE fold_first AS "
            "SELECT delivery_id, type, min(campaign_id) AS campaign_id, min(channel) AS channel, "
            f"min({hour}) AS hour, min(campaign_id) AS old_campaign_id, "
            f"min(channel) AS old_channel, CAST(NULL AS bigint) AS old_hour {batch} "
            "AND delivery_id IS NOT NULL GROUP BY delivery_id, type"
        )
    )
    if dialect == "postgresql":
        # Real row counts, so the lookups below use the primary key instead of a full scan.
        session.execute(text("ANALYZE fold_first"))
    session.execute(
        text(
            "UPDATE fold_first SET old_hour = f.hour, old_campaign_id = f.campaign_id, "
            "old_channel = f.channel FROM delivery_first_event f "
            "WHERE f.delivery_id = fold_first.delivery_id AND f.type = fold_first.type"
        )
    )
    # Deliveries already counted at an hour no later than this batch's: nothing changes.
    session.execute(text("DELETE FROM fold_first WHERE old_hour IS NOT NULL AND hour >= old_hour"))
    # A delivery whose first event turns out earlier than folded before moves its unique.
    session.execute(
        text(
            "UPDATE campaign_stat_hourly SET uniq = uniq - d.n FROM ("
            "SELECT old_campaign_id, old_channel, type, old_hour, count(*) AS n "
            "FROM fold_first WHERE old_hour IS NOT NULL "
            "GROUP BY old_campaign_id, old_channel, type, old_hour) d "
            "WHERE campaign_stat_hourly.campaign_id = d.old_campaign_id "
            "AND campaign_stat_hourly.channel = d.old_channel "
            "AND campaign_stat_hourly.type = d.type AND campaign_stat_hourly.hour = d.old_hour"
        )
    )
    session.execute(
        text(
            "INSERT INTO campaign_stat_hourly (campaign_id, channel, type, hour, total, uniq) "
            "SELECT campaign_id, channel, type, hour, 0, count(*) FROM fold_first WHERE 1 = 1 "
            "GROUP BY campaign_id, channel, type, hour "
            "ON CONFLICT (campaign_id, channel, type, hour) "
            "DO UPDATE SET uniq = campaign_stat_hourly.uniq + excluded.uniq"
        )
    )
    session.execute(
        text(
            "INSERT INTO delivery_first_event (delivery_id, type, campaign_id, channel, hour) "
            "SELECT delivery_id, type, campaign_id, channel, hour FROM fold_first WHERE 1 = 1 "
            "ON CONFLICT (delivery_id, type) DO UPDATE SET hour = excluded.hour"
        )
    )
    session.execute(text("DROP TABLE fold_first"))
    return dirty


def _campaigns_needing_tally(
    session: Session, last_tally_at: datetime | None, last_redemption_id: int
) -> set[int]:
    """Campaigns whose delivery or coupon counts may have changed since the last tally.

    Campaigns with new events are added by the fold; this adds campaigns still sending,
    edited (cancel, finish) since the last tally, never tallied, or with a new redemption or
    undo (an undo deletes its event). The margins re-tally a little extra rather than miss a
    row committed out of order.
    """
    params = {
        "rid": max(0, last_redemption_id - 100),
        "live": [s.value for s in LIVE_CAMPAIGN_STATUSES],
        "reported": [s.value for s in REPORTED_STATUSES],
        "since": (last_tally_at or datetime(1970, 1, 1, tzinfo=UTC)) - timedelta(seconds=5),
        "marker": TALLY_MARKER,
    }
    query = text(
        "SELECT c.id FROM campaign c WHERE c.status IN :reported AND ("
        "c.status IN :live OR c.updated_at >= :since "
        "OR NOT EXISTS (SELECT 1 FROM campaign_tally t WHERE t.campaign_id = c.id "
        "AND t.channel = '' AND t.metric = :marker) "
        "OR c.id IN (SELECT k.campaign_id FROM redemption r JOIN coupon k ON k.id = r.coupon_id "
        "WHERE r.id > :rid))"
    ).bindparams(
        bindparam("live", expanding=True), bindparam("reported", expanding=True), _when("since")
    )
    return {row[0] for row in session.execute(query, params)}


def _retally(session: Session, dialect: str, campaign_ids: list[int]) -> None:
    """Recount deliveries and coupons by status, and the sent-per-hour series, per campaign."""
    if not campaign_ids:
        return
    hour = hour_sql(dialect, "d.sent_at")
    ids = bindparam("ids", expanding=True)
    params = {
        "ids": campaign_ids,
        "sent": [s.value for s in SENT_STATUSES],
        "series": SENT_SERIES,
        "marker": TALLY_MARKER,
        "no_receipts": f"{OUTBOX_PROVIDER_ID_PREFIX}%",
    }
    statements = [
        "DELETE FROM campaign_tally WHERE campaign_id IN :ids",
        "DELETE FROM campaign_stat_hourly WHERE type = :series AND campaign_id IN :ids",
        "INSERT INTO campaign_tally (campaign_id, channel, metric, n) "
        "SELECT d.campaign_id, d.channel, 'delivery:' || d.status, count(*) FROM delivery d "
        "WHERE d.campaign_id IN :ids GROUP BY d.campaign_id, d.channel, d.status",
        "INSERT INTO campaign_tally (campaign_id, channel, metric, n) "
        "SELECT k.campaign_id, d.channel, 'coupon:' || k.status, count(*) FROM coupon k "
        "JOIN delivery d ON d.id = k.delivery_id "
        "WHERE k.campaign_id IN :ids GROUP BY k.campaign_id, d.channel, k.status",
        "INSERT INTO campaign_tally (campaign_id, channel, metric, n) "
        "SELECT d.campaign_id, d.channel, 'receipts:none', count(*) FROM delivery d "
        "WHERE d.campaign_id IN :ids AND d.status IN :sent "
        "AND d.provider_message_id LIKE :no_receipts GROUP BY d.campaign_id, d.channel",
        "INSERT INTO campaign_tally (campaign_id, channel, metric, n) "
        "SELECT c.id, '', :marker, 0 FROM campaign c WHERE c.id IN :ids",
        "INSERT INTO campaign_stat_hourly (campaign_id, channel, type, hour, total, uniq) "
        f"SELECT d.campaign_id, d.channel, :series, {hour}, count(*), count(*) FROM delivery d "
        "WHERE d.campaign_id IN :ids AND d.status IN :sent AND d.sent_at IS NOT NULL "
        f"GROUP BY d.campaign_id, d.channel, {hour}",
    ]
    for sql in statements:
        stmt: TextClause = text(sql).bindparams(ids)
        if ":sent" in sql:
            stmt = stmt.bindparams(bindparam("sent", expanding=True))
        session.execute(stmt, params)


# Campaign dashboard -------------------------------------------------------------------


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
    queued: int = 0  # pending or in flight
    cancelled: int = 0
    opened_unique: int = 0
    opened_total: int = 0
    clicked_unique: int = 0
    clicked_total: int = 0
    complaints: int = 0
    unsubscribes: int = 0
    coupons_issued: int = 0
    redeemed: int = 0
    email_sent: int = 0  # sent on the email channel: the messages that can be opened
    sent_without_receipts: int = 0  # sent through a provider that never reports delivery

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

    def add(self, other: Funnel) -> None:
        for name in _COUNT_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_COUNT_FIELDS = [f for f in Funnel.__dataclass_fields__ if f != "channel"]


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
) -> CampaignReport:
    """The funnel of one campaign, overall and per channel, with failures by reason."""
    per: dict[str, Funnel] = {}

    def bucket(ch: str) -> Funnel:
        return per.setdefault(ch, Funnel(ch))

    ch_filter = _channel_clause("d", channel)
    params = {"cid": campaign_id, "channel": channel}
    for ch, status, n, no_receipts in session.execute(
        text(
            "SELECT d.channel, d.status, count(*), sum(CASE WHEN d.provider_message_id "
            "LIKE :no_receipts THEN 1 ELSE 0 END) FROM delivery d "
            f"WHERE d.campaign_id = :cid{ch_filter} GROUP BY d.channel, d.status"
        ),
        {**params, "no_receipts": f"{OUTBOX_PROVIDER_ID_PREFIX}%"},
    ):
        _add_delivery_status(bucket(ch), ch, status, n)
        if status in SENT_STATUSES:
            bucket(ch).sent_without_receipts += int(no_receipts or 0)
    lo, hi = _hour_range(since, until)
    for ch, typ, total, uniq in session.execute(
        text(
            "SELECT s.channel, s.type, sum(s.total), sum(s.uniq) FROM campaign_stat_hourly s "
            f"WHERE s.campaign_id = :cid AND s.hour >= :lo AND s.hour < :hi{_channel_clause('s', channel)} "
            "GROUP BY s.channel, s.type"
        ),
        {**params, "lo": lo, "hi": hi},
    ):
        _add_event_counts(bucket(ch), typ, int(total), int(uniq))
    _add_coupons(session, per, campaign_id, channel, since, until)
    failures = [
        FailureReason(ch, status, reason or "(no reason recorded)", n)
        for ch, status, reason, n in session.execute(
            text(
                "SELECT d.channel, d.status, d.error, count(*) AS n FROM delivery d "
                f"WHERE d.campaign_id = :cid AND d.status IN ('failed', 'bounced'){ch_filter} "
                "GROUP BY d.channel, d.status, d.error ORDER BY n DESC, d.error LIMIT 20"
            ),
            params,
        )
    ]
    overall = Funnel(channel)
    for f in per.values():
        overall.add(f)
    by_channel = {ch: f for ch, f in sorted(per.items()) if f.targeted}
    return CampaignReport(campaign_id, overall, by_channel, failures)


def _add_delivery_status(f: Funnel, channel: str, status: str, n: int) -> None:
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
    match typ:
        case EventType.OPENED:
            f.opened_total += total
            f.opened_unique += uniq
        case EventType.CLICKED:
            f.clicked_total += total
            f.clicked_unique += uniq
        case EventType.COMPLAINED:
            f.complaints += uniq
        case EventType.UNSUBSCRIBED:
            f.unsubscribes += uniq


def _add_coupons(
    session: Session,
    per: dict[str, Funnel],
    campaign_id: int,
    channel: str | None,
    since: datetime | None,
    until: datetime | None,
) -> None:
    """Issued and redeemed coupons (redeemed within the range), by the delivery's channel."""
    lo, hi = _hour_range(since, until)
    redeemed_hour = hour_sql(_dialect(session), "k.redeemed_at")
    rows = session.execute(
        text(
            "SELECT d.channel, count(*), "
            f"sum(CASE WHEN k.status = :redeemed AND {redeemed_hour} >= :lo "
            f"AND {redeemed_hour} < :hi THEN 1 ELSE 0 END) "
            "FROM coupon k JOIN delivery d ON d.id = k.delivery_id "
            f"WHERE k.campaign_id = :cid{_channel_clause('d', channel)} GROUP BY d.channel"
        ),
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
    opens: int
    clicks: int
    redemptions: int


def campaign_hourly(
    session: Session,
    campaign_id: int,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    max_hours: int = 24 * 14,
) -> list[HourPoint]:
    """Opens, clicks and redemptions by hour since the campaign's send (gaps filled with 0)."""
    sent_at = session.execute(
        select(Campaign.sent_at).where(Campaign.id == campaign_id)
    ).scalar_one_or_none()
    if sent_at is None:
        return []
    start = to_hour(_utc(sent_at))
    lo, hi = _hour_range(since, until)
    lo, hi = max(lo, start), min(hi, start + max_hours)
    params = {"cid": campaign_id, "channel": channel, "lo": lo, "hi": hi}
    series: dict[int, list[int]] = {}
    for typ, hour, total in session.execute(
        text(
            "SELECT s.type, s.hour, sum(s.total) FROM campaign_stat_hourly s "
            "WHERE s.campaign_id = :cid AND s.type IN ('opened', 'clicked') "
            f"AND s.hour >= :lo AND s.hour < :hi{_channel_clause('s', channel)} "
            "GROUP BY s.type, s.hour"
        ),
        params,
    ):
        series.setdefault(int(hour), [0, 0, 0])[0 if typ == "opened" else 1] += int(total)
    redeemed_hour = hour_sql(_dialect(session), "k.redeemed_at")
    for hour, n in session.execute(
        text(
            f"SELECT {redeemed_hour} AS h, count(*) FROM coupon k "
            "JOIN delivery d ON d.id = k.delivery_id "
            "WHERE k.campaign_id = :cid AND k.status = 'redeemed' "
            f"AND {redeemed_hour} >= :lo AND {redeemed_hour} < :hi{_channel_clause('d', channel)} "
            f"GROUP BY {redeemed_hour}"
        ),
        params,
    ):
        series.setdefault(int(hour), [0, 0, 0])[2] += int(n)
    if not series:
        return []
    last = max(series)
    return [
        HourPoint(h - start, *series.get(h, [0, 0, 0])) for h in range(max(lo, start), last + 1)
    ]


@dataclass(frozen=True)
class LinkStat:
    url: str
    clicks: int
    unique_clicks: int


def top_links(
    session: Session,
    campaign_id: int,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 10,
) -> list[LinkStat]:
    """Most clicked links of one campaign (one index range scan of its click events)."""
    lo, hi = _hour_range(since, until)
    params = {
        "cid": campaign_id,
        "channel": channel,
        "limit": limit,
        "since": hour_start(max(lo, 0)),
        "until": hour_start(min(hi, 10**7)),
    }
    rows = session.execute(
        text(
            "SELECT e.detail, count(*) AS n, count(DISTINCT e.delivery_id) FROM event e "
            "WHERE e.campaign_id = :cid AND e.type = 'clicked' "
            f"AND e.created_at >= :since AND e.created_at < :until{_channel_clause('e', channel)} "
            "GROUP BY e.detail ORDER BY n DESC, e.detail LIMIT :limit"
        ).bindparams(_when("since"), _when("until")),
        params,
    )
    return [LinkStat(url or "(no link)", int(n), int(u)) for url, n, u in rows]


# Overview ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignRow:
    campaign_id: int
    name: str
    channel: str
    sent_at: datetime | None
    funnel: Funnel


@dataclass(frozen=True)
class DayPoint:
    day: datetime
    sent: int
    opens: int
    clicks: int


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
    campaigns: list[CampaignRow]
    trend: list[DayPoint]
    audience: list[AudiencePoint]
    consent: list[ConsentPoint]


def overview(
    session: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = None,
) -> Overview:
    """All reported campaigns sent in the range compared, plus daily trends, audience and consent."""
    return Overview(
        campaigns=campaign_rows(session, since, until, channel),
        trend=daily_trend(session, since, until, channel),
        audience=audience_growth(session, since, until),
        consent=consent_changes(session, since, until, channel),
    )


def campaign_rows(
    session: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = None,
) -> list[CampaignRow]:
    """One row per campaign sent in [since, until), newest first, from the tallies and rollups."""
    window, params = _time_window("c.sent_at", since, until)
    params |= {"reported": [s.value for s in REPORTED_STATUSES], "channel": channel}
    campaigns = session.execute(
        text(
            "SELECT c.id, c.name, c.channel, c.sent_at FROM campaign c "
            f"WHERE c.status IN :reported AND c.sent_at IS NOT NULL AND {window} "
            "ORDER BY c.sent_at DESC, c.id DESC"
        )
        .bindparams(bindparam("reported", expanding=True), _when("since"), _when("until"))
        .columns(sent_at=DateTime(timezone=True)),
        params,
    ).all()
    if not campaigns:
        return []
    ids = [c[0] for c in campaigns]
    funnels = {cid: Funnel(channel) for cid in ids}
    id_param = bindparam("ids", expanding=True)
    for cid, ch, metric, n in session.execute(
        text(
            "SELECT t.campaign_id, t.channel, t.metric, sum(t.n) FROM campaign_tally t "
            f"WHERE t.campaign_id IN :ids AND t.channel <> ''{_channel_clause('t', channel)} "
            "GROUP BY t.campaign_id, t.channel, t.metric"
        ).bindparams(id_param),
        {"ids": ids, "channel": channel},
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
    lo, hi = _hour_range(since, until)
    for cid, typ, total, uniq in session.execute(
        text(
            "SELECT s.campaign_id, s.type, sum(s.total), sum(s.uniq) FROM campaign_stat_hourly s "
            "WHERE s.campaign_id IN :ids AND s.type IN :types AND s.hour >= :lo AND s.hour < :hi"
            f"{_channel_clause('s', channel)} GROUP BY s.campaign_id, s.type"
        ).bindparams(id_param, bindparam("types", expanding=True)),
        {
            "ids": ids,
            "types": [t.value for t in ENGAGEMENT],
            "lo": lo,
            "hi": hi,
            "channel": channel,
        },
    ):
        _add_event_counts(funnels[cid], typ, int(total), int(uniq))
    return [
        CampaignRow(cid, name, ch, _aware(sent_at), funnels[cid])
        for cid, name, ch, sent_at in campaigns
    ]


def daily_trend(
    session: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = None,
) -> list[DayPoint]:
    """Messages sent, opens and clicks per UTC day, across all campaigns."""
    lo, hi = _hour_range(since, until)
    days: dict[int, list[int]] = {}
    column = {SENT_SERIES: 0, EventType.OPENED.value: 1, EventType.CLICKED.value: 2}
    for typ, day, total in session.execute(
        text(
            "SELECT s.type, s.hour / 24 AS d, sum(s.total) FROM campaign_stat_hourly s "
            "WHERE s.type IN :types AND s.hour >= :lo AND s.hour < :hi"
            f"{_channel_clause('s', channel)} GROUP BY s.type, s.hour / 24"
        ).bindparams(bindparam("types", expanding=True)),
        {"types": list(column), "lo": lo, "hi": hi, "channel": channel},
    ):
        days.setdefault(int(day), [0, 0, 0])[column[typ]] += int(total)
    return [DayPoint(hour_start(d * 24), *days.get(d, [0, 0, 0])) for d in _day_span(days)]


def _day_span(days: Iterable[int]) -> list[int]:
    present = sorted(days)
    return list(range(present[0], present[-1] + 1)) if present else []


def audience_growth(
    session: Session, since: datetime | None = None, until: datetime | None = None
) -> list[AudiencePoint]:
    """New customers per UTC day and the running total (including customers before `since`)."""
    where, params = _time_window("created_at", since, until)
    base = 0
    if since:
        base = session.execute(
            text("SELECT count(*) FROM customer WHERE created_at < :since").bindparams(
                _when("since")
            ),
            {"since": params["since"]},
        ).scalar_one()
    day = day_sql(_dialect(session), "created_at")
    counts = {
        int(d): int(n)
        for d, n in session.execute(
            text(
                f"SELECT {day} AS d, count(*) FROM customer WHERE {where} GROUP BY {day}"
            ).bindparams(_when("since"), _when("until")),
            params,
        )
    }
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
    day = day_sql(_dialect(session), "e.created_at")
    where, params = _time_window("e.created_at", since, until)
    params["channel"] = channel
    rows = session.execute(
        text(
            f"SELECT {day} AS d, e.channel, "
            "sum(CASE WHEN e.granted THEN 1 ELSE 0 END), "
            "sum(CASE WHEN e.granted THEN 0 ELSE 1 END) "
            f"FROM consent_event e WHERE {where}{_channel_clause('e', channel)} "
            f"GROUP BY {day}, e.channel ORDER BY d, e.channel"
        ).bindparams(_when("since"), _when("until")),
        params,
    )
    return [ConsentPoint(hour_start(int(d) * 24), ch, int(g), int(w)) for d, ch, g, w in rows]


def _time_window(
    column: str, since: datetime | None, until: datetime | None
) -> tuple[str, dict[str, object]]:
    """A [since, until) condition on a timestamp column; open ends compare against far bounds."""
    params: dict[str, object] = {
        "since": _utc(since) if since else datetime(1970, 1, 1, tzinfo=UTC),
        "until": _utc(until) if until else datetime(9999, 1, 1, tzinfo=UTC),
    }
    return f"{column} >= :since AND {column} < :until", params


def channels_sent(report: CampaignReport) -> list[str]:
    """Channels that carried at least one message; two means show them side by side."""
    return [
        ch
        for ch in (Channel.EMAIL.value, Channel.SMS.value)
        if ch in report.by_channel and report.by_channel[ch].sent
    ]


# Filters and tables (the pages and the CSV export share them) ------------------------------

CHANNEL_CHOICES = ("all", Channel.EMAIL.value, Channel.SMS.value)
OVERVIEW_TABLES = ("campaigns", "trend", "audience", "consent", "redemptions")
CAMPAIGN_TABLES = ("funnel", "hourly", "links", "failures")


@dataclass(frozen=True)
class Filters:
    since: datetime | None
    until: datetime | None  # exclusive: the day after the chosen "to" date
    channel: str | None


def parse_filters(since: str = "", until: str = "", channel: str = "") -> Filters:
    """Dates as YYYY-MM-DD (UTC days, "to" inclusive) and a channel; junk means no filter."""
    return Filters(
        _day(since), _day(until, plus_one=True), channel if channel in CHANNEL_CHOICES[1:] else None
    )


def _day(value: str, plus_one: bool = False) -> datetime | None:
    try:
        day = datetime.strptime(value.strip()[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return day + timedelta(days=1) if plus_one else day


def _r(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def export_table(
    session: Session, name: str, filters: Filters, campaign_id: int | None = None
) -> tuple[list[str], list[list[object]]] | None:
    """The rows behind one chart, for CSV export; None for an unknown table name."""
    f = filters
    if name in CAMPAIGN_TABLES and campaign_id is None:
        return None
    if name == "campaigns" or name == "redemptions":
        rows = campaign_rows(session, f.since, f.until, f.channel)
        if name == "redemptions":
            return ["campaign_id", "name", "coupons_issued", "redeemed", "redemption_rate"], [
                [
                    r.campaign_id,
                    r.name,
                    r.funnel.coupons_issued,
                    r.funnel.redeemed,
                    _r(r.funnel.redemption_rate),
                ]  # fmt: skip
                for r in rows
                if r.funnel.coupons_issued
            ]
        return [
            "campaign_id",
            "name",
            "sent_at",
            "sent",
            "delivered_rate",
            "open_rate",
            "click_rate",
            "redemption_rate",
            "unsubscribes",
        ], [  # fmt: skip
            [
                r.campaign_id,
                r.name,
                r.sent_at.isoformat() if r.sent_at else "",
                r.funnel.sent,
                _r(r.funnel.delivered_rate),
                _r(r.funnel.open_rate),
                _r(r.funnel.click_rate),
                _r(r.funnel.redemption_rate),
                r.funnel.unsubscribes,
            ]  # fmt: skip
            for r in rows
        ]
    if name == "trend":
        return ["day", "sent", "opens", "clicks"], [
            [p.day.date().isoformat(), p.sent, p.opens, p.clicks]
            for p in daily_trend(session, f.since, f.until, f.channel)
        ]
    if name == "audience":
        return ["day", "new_customers", "total_customers"], [
            [p.day.date().isoformat(), p.new_customers, p.total_customers]
            for p in audience_growth(session, f.since, f.until)
        ]
    if name == "consent":
        return ["day", "channel", "granted", "withdrawn"], [
            [p.day.date().isoformat(), p.channel, p.granted, p.withdrawn]
            for p in consent_changes(session, f.since, f.until, f.channel)
        ]
    assert campaign_id is not None
    if name == "funnel":
        report = campaign_funnel(session, campaign_id, f.channel, f.since, f.until)
        header = ["channel", *_COUNT_FIELDS, "delivered_rate", "open_rate", "click_rate",
                  "redemption_rate"]  # fmt: skip
        funnels = [report.funnel, *report.by_channel.values()]
        return header, [
            [
                fn.channel or "all",
                *(getattr(fn, c) for c in _COUNT_FIELDS),
                _r(fn.delivered_rate),
                _r(fn.open_rate),
                _r(fn.click_rate),
                _r(fn.redemption_rate),
            ]  # fmt: skip
            for fn in funnels
        ]
    if name == "hourly":
        return ["hours_since_send", "opens", "clicks", "redemptions"], [
            [p.hours_since_send, p.opens, p.clicks, p.redemptions]
            for p in campaign_hourly(session, campaign_id, f.channel, f.since, f.until)
        ]
    if name == "links":
        return ["url", "clicks", "unique_clicks"], [
            [x.url, x.clicks, x.unique_clicks]
            for x in top_links(session, campaign_id, f.channel, f.since, f.until, limit=100)
        ]
    if name == "failures":
        report = campaign_funnel(session, campaign_id, f.channel, f.since, f.until)
        return ["channel", "status", "reason", "count"], [
            [x.channel, x.status, x.reason, x.count] for x in report.failures
        ]
    return None
