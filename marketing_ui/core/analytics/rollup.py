"""Incremental rollups: new events folded into hourly counts, changed campaigns re-tallied.

Events are folded into small tables (see docs/analytics.md): `campaign_stat_hourly` (total and
unique events per campaign, channel, type and UTC hour), `delivery_first_event` (the hour of
each delivery's first event of a type, which makes unique counts additive) and `campaign_tally`
(delivery and coupon counts by status per campaign). `refresh_rollups` folds new Event rows past
a watermark on Event.id; it is idempotent and cheap when nothing is new, so dashboards call it
before reading. Redemptions are read from the Coupon table (an undone redemption deletes its
event, which an append-only fold could not see).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from marketing_ui.core import statuses
from marketing_ui.core.analytics.hours import aware
from marketing_ui.core.analytics.queries import sql
from marketing_ui.core.clock import utcnow
from marketing_ui.core.models import (
    OUTBOX_PROVIDER_ID_PREFIX,
    AnalyticsWatermark,
    CampaignStatus,
    EventType,
)

FOLD_BATCH = 500_000  # event ids folded per statement group, bounding each transaction
PG_SETTLE_S = 2.0  # PostgreSQL ids can commit out of order; fold an id range only once settled
SENT_SERIES = "delivery_sent"  # rollup type recomputed from Delivery.sent_at (not an Event type)
SENT_STATUSES = statuses.ACCEPTED
LIVE_CAMPAIGN_STATUSES = statuses.IN_PROGRESS  # events still arrive: re-tallied on every run
TALLY_MARKER = "tallied:2"  # a new name re-tallies every campaign once (receipts were added)
REPORTED_STATUSES = (
    CampaignStatus.SENDING,
    CampaignStatus.PAUSED,
    CampaignStatus.SENT,
    CampaignStatus.CANCELLED,
    CampaignStatus.FAILED,
)
NO_RECEIPTS = f"{OUTBOX_PROVIDER_ID_PREFIX}%"  # LIKE pattern: sent by a provider without receipts
# Human opens and clicks are folded a second time under their own type (queries.sql writes
# type || '_human'), so reports read human and all events apart from the same rollups.
HUMAN_TYPES = {EventType.OPENED.value: "opened_human", EventType.CLICKED.value: "clicked_human"}
WATERMARKS = ("event", "tally")  # AnalyticsWatermark.name: events folded, tallies recounted
# Statement names (queries.sql) in the order they run.
FOLD = (  # one batch of events, after "fold-campaigns-touched"
    "fold-hourly-totals",
    "fold-first-reset",
    "fold-first-create",
    "fold-first-analyze",  # PostgreSQL only
    "fold-first-known-hours",
    "fold-first-drop-counted",
    "fold-uniques-move-out",
    "fold-uniques-add",
    "fold-first-record",
    "fold-first-drop",
)
RETALLY = (  # one set of campaigns
    "tally-clear",
    "tally-clear-sent-series",
    "tally-deliveries",
    "tally-coupons",
    "tally-sent-without-receipts",
    "tally-marker",
    "tally-sent-series",
)


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
    if settle_s is None:
        settle_s = PG_SETTLE_S if _dialect(session) == "postgresql" else 0.0
    now = utcnow()
    _ensure_watermarks(session)
    session.execute(sql(session, "watermark-lock"), {"now": now})
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
    max_id = session.execute(sql(session, "event-max-id")).scalar_one()
    target = _settled_target(session, last_id, pending_id, aware(pending_at), max_id, now, settle_s)
    start = last_id
    dirty: set[int] = set()
    while start < target:
        stop = min(target, start + FOLD_BATCH)
        dirty.update(_fold_events(session, start, stop))
        start = stop
    session.execute(sql(session, "watermark-advance-events"), {"t": target})
    max_redemption_id = session.execute(sql(session, "redemption-max-id")).scalar_one()
    dirty.update(_campaigns_needing_tally(session, aware(last_tally_at), last_redemption_id))
    _retally(session, sorted(dirty))
    session.execute(sql(session, "watermark-mark-tally"), {"now": now, "rid": max_redemption_id})
    session.commit()
    return RefreshResult(target - last_id, len(dirty), target)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _ensure_watermarks(session: Session) -> None:
    for name in WATERMARKS:
        if session.execute(sql(session, "watermark-exists"), {"n": name}).first() is None:
            session.execute(sql(session, "watermark-create"), {"n": name})


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
        session.execute(sql(session, "watermark-set-pending"), {"p": max_id, "at": now})
    return target


def _fold_events(session: Session, lo: int, hi: int) -> set[int]:
    """Add events with lo < id <= hi to the hourly totals and first-seen uniques."""
    touched = session.execute(sql(session, "fold-campaigns-touched", lo=lo, hi=hi))
    dirty = {row[0] for row in touched if row[0] is not None}
    postgres = _dialect(session) == "postgresql"
    for name in FOLD:
        if name != "fold-first-analyze" or postgres:
            session.execute(sql(session, name, lo=lo, hi=hi))
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
        "last_rid": last_redemption_id,
        "rid": max(0, last_redemption_id - 100),
        "live": [s.value for s in LIVE_CAMPAIGN_STATUSES],
        "reported": [s.value for s in REPORTED_STATUSES],
        "since": (last_tally_at or datetime(1970, 1, 1, tzinfo=UTC)) - timedelta(seconds=5),
        "marker": TALLY_MARKER,
    }
    return {row[0] for row in session.execute(sql(session, "tally-campaigns-changed"), params)}


def _retally(session: Session, campaign_ids: list[int]) -> None:
    """Recount deliveries and coupons by status, and the sent-per-hour series, per campaign."""
    if not campaign_ids:
        return
    params = {
        "ids": campaign_ids,
        "sent": [s.value for s in SENT_STATUSES],
        "series": SENT_SERIES,
        "marker": TALLY_MARKER,
        "no_receipts": NO_RECEIPTS,
    }
    for name in RETALLY:
        session.execute(sql(session, name), params)


def unfold_machine_clicks(session: Session, event_ids: list[int]) -> None:
    """Take clicks just flagged machine out of the human rollups they were folded into.

    Called in the transaction that flagged them (events._flag_link_bursts), after the flag:
    the watermark lock taken here is held to the commit, so every fold either ran before (and
    counted these clicks as human: a flag only ever goes from human to machine) or runs after
    and sees them as machine. Clicks past the watermark need nothing: the fold will see the flag.
    """
    if not event_ids:
        return
    folded = session.execute(sql(session, "unfold-lock")).scalar_one_or_none()
    if not folded or min(event_ids) > folded:
        return
    params = {"ids": event_ids, "folded": folded}
    session.execute(sql(session, "unfold-totals"), params)
    for delivery_id, campaign_id, channel, old_hour, new_hour in session.execute(
        sql(session, "unfold-first-hours"), params
    ).all():
        if new_hour == old_hour:
            continue
        where = {"cid": campaign_id, "channel": channel}
        session.execute(sql(session, "unfold-unique-out"), {**where, "hour": old_hour})
        if new_hour is None:
            session.execute(sql(session, "unfold-first-drop"), {"d": delivery_id})
        else:
            session.execute(sql(session, "unfold-unique-in"), {**where, "hour": new_hour})
            session.execute(sql(session, "unfold-first-move"), {"d": delivery_id, "hour": new_hour})
