"""Which automations are due for whom, found in SQL and recorded once, then sent as batches.

One run, per enabled automation:

1. **Due set → occurrences.** One `INSERT … SELECT … ON CONFLICT DO NOTHING` into
   automation_occurrence. Its UNIQUE (automation, customer, occurrence) is the whole guarantee:
   a re-run, a double tick, two schedulers or a crash replayed can only hit the constraint.
   Customers are never loaded into Python.
2. **Occurrences → a batch.** A copy of the message (the template campaign, or the original
   campaign for second chance) is created and every occurrence still without a batch
   (`campaign_id IS NULL`) is attached to it, in one transaction; a run that attached nothing
   (another run got there first) rolls its copy back.
3. **Batch → send.** Every draft batch is started with `sending.start_batch`, which freezes
   deliveries for exactly its occurrences' customers (consent and suppression checked again).
   A crash after 1 leaves occurrences without a batch; after 2, a draft batch: the next run
   finishes either.

What an occurrence is, per kind (the string in automation_occurrence.occurrence):

- welcome: ``"welcome"`` — at most one welcome per customer, ever, whatever their consent
  history; due when `delay_hours` have passed since a consent (email or SMS, as the automation's
  channel; imports only when `include_imports`) was granted after `enabled_at`, if the customer
  is reachable then. Consent withdrawn before the welcome was due and given again: welcomed
  `delay_hours` after the new grant.
- birthday: the year of the birthday celebrated, ``"2027"``; due from `days_before` days before
  the birthday until the day itself (a missed tick catches up), in the business's time zone.
  29 February is celebrated on 28 February in other years.
- winback: ``"p<n>"`` with n = days since 1970-01-01 (business zone) // period_days; due when the
  last visit is `inactive_days` old and the customer had no win-back in the last `period_days`
  (`inactive_days` when `period_days` is 0). The bucket only makes the row unique per period;
  the spacing comes from the NOT EXISTS.
- thank_you: ``"visit:<visit id>"``; due `delay_hours` after a visit, for visits at most
  THANK_YOU_WINDOW older than that (switching it on thanks nobody for old visits), one visit per
  customer and run (the latest), and none when the customer was thanked in the last
  `period_days`.
- second_chance: ``"campaign:<id>"``; for each sent campaign (not a batch or template) with
  `second_chance_hours`, opens tracked and email in its channels: email recipients accepted at
  least that many hours ago who neither opened nor clicked, while the moment is at most
  SECOND_CHANCE_WINDOW past and after `enabled_at`. The batch is the original message with
  `second_chance_subject`.

`created_at` of an occurrence is the run's `now`, so "in the last period_days" reads the same
clock the run does (tests drive it day by day).

**What a tick reads.** Welcome and win-back look only at customers something happened to since
the previous run (`last_run_at`, less WATERMARK_SLACK): a consent granted, a visit that crossed the
inactivity threshold, a win-back whose period ran out. The full condition is then checked on
those few, so a steady tick over 1,000,000 customers reads thousands of rows, not a million.
`last_run_at` is written in the same transaction as the occurrences (a crash leaves the old one),
and is cleared when an automation is switched on or its settings change, so the next run reads
everyone once. Birthday reads its indexed (month, day) window; thank-you its THANK_YOU_WINDOW of
visits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    literal,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.orm import aliased
from sqlmodel import Session

from marketing_ui.core import redis_keys, sending, statuses
from marketing_ui.core.app_settings import business_identity
from marketing_ui.core.audience import channels_of, reachable_clause
from marketing_ui.core.clock import as_utc, utcnow, zone_or_utc
from marketing_ui.core.db import insert_ignore
from marketing_ui.core.messages import compiled_email
from marketing_ui.core.models import (
    Automation,
    AutomationKind,
    AutomationOccurrence,
    Campaign,
    CampaignStatus,
    Channel,
    ConsentEvent,
    Customer,
    Delivery,
    Event,
    EventType,
    Visit,
)
from marketing_ui.core.redis_client import get_redis
from marketing_ui.core.sms import compile_sms

log = logging.getLogger(__name__)

RUN_EVERY_S = 60  # the scheduler's tick asks often; the engine runs at most this often
THANK_YOU_WINDOW = timedelta(days=2)
# Rows stamped a little before they commit (a visit, a consent) or by a host whose clock is a
# little behind still fall inside the next run's window.
WATERMARK_SLACK = timedelta(hours=1)
SECOND_CHANCE_WINDOW = timedelta(days=2)
IMPORT_SOURCE = "import"  # ConsentEvent.source of consent that came with an imported file
_NAMES = {
    AutomationKind.WELCOME: "Welcome",
    AutomationKind.BIRTHDAY: "Birthday",
    AutomationKind.WINBACK: "Win-back",
    AutomationKind.THANK_YOU: "Thank you",
    AutomationKind.SECOND_CHANCE: "Second chance",
}
_AO = AutomationOccurrence


@dataclass
class RunReport:
    """New occurrences per kind, the batches started, and why an enabled automation was skipped."""

    fired: dict[str, int] = field(default_factory=dict)
    batches: list[int] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


# Entry points --------------------------------------------------------------------------------


def run_due(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Evaluate every enabled automation now; returns the new occurrences per kind."""
    return run(session, now).fired


def run_if_due(session: Session) -> RunReport | None:
    """`run`, at most once per RUN_EVERY_S across all workers (the periodic tick calls this)."""
    if not get_redis().set(redis_keys.automations_run(), "1", nx=True, ex=RUN_EVERY_S):
        return None
    return run(session)


def run(session: Session, now: datetime | None = None, send: bool = True) -> RunReport:
    """Record what is due and send it; `send=False` stops after the occurrences (the bench).

    Commits. One automation's failure is logged and does not stop the others.
    """
    now = as_utc(now) or utcnow()
    report = RunReport()
    zone = zone_or_utc(business_identity(session).timezone)
    automations = session.execute(select(Automation).where(Automation.enabled.is_(True)))
    for automation in list(automations.scalars()):
        kind = automation.kind
        try:
            problem = message_problem(session, automation)
            if problem:
                report.skipped[kind] = problem
                log.info("automation %s skipped: %s", kind, problem)
                continue
            report.fired[kind] = _record_due(session, automation, now, zone)
            if send:
                _attach_pending(session, automation, now, zone)
                report.batches += _start_unsent(session, automation)
        except Exception:  # noqa: BLE001 - one broken automation must not block the others
            session.rollback()
            log.exception("automation %s failed", kind)
            report.skipped[kind] = "the run failed; see the worker log"
    return report


def stop(session: Session, automation_id: int) -> int:
    """Switching an automation off: cancel its batches not yet sent; returns how many. Commits."""
    unsent = session.execute(
        select(Campaign.id, Campaign.status).where(
            Campaign.automation_id == automation_id,
            Campaign.status.in_(statuses.values((CampaignStatus.DRAFT, *statuses.UNFINISHED))),
            _is_batch(),
        )
    ).all()
    for campaign_id, status in unsent:
        if status == CampaignStatus.DRAFT:
            # A batch left as a draft by a crash has no deliveries; nobody ever saw it.
            session.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.DRAFT)
                .values(status=CampaignStatus.CANCELLED.value, updated_at=utcnow())
            )
            session.commit()
        else:
            sending.cancel(session, campaign_id)
    return len(unsent)


def message_problem(session: Session, automation: Automation) -> str | None:
    """Why this automation's message cannot be sent (None: it can)."""
    if automation.kind == AutomationKind.SECOND_CHANCE:
        return None  # each campaign's own message is resent
    template = (
        session.get(Campaign, automation.template_campaign_id)
        if automation.template_campaign_id is not None
        else None
    )
    if template is None:
        return "it has no message yet."
    channels = channels_of(template.channel)
    try:
        if Channel.EMAIL in channels:
            if not template.subject.strip() or not template.mjml_body.strip():
                return "its email has no subject or no content."
            compiled_email(template)
        if Channel.SMS in channels:
            if not template.sms_body.strip():
                return "its SMS has no text."
            compile_sms(template.sms_body)
    except Exception as exc:  # noqa: BLE001 - any template error is the owner's to fix
        return f"its message does not compile: {exc}"
    return None


# 1. Due sets -> occurrences --------------------------------------------------------------------


def _record_due(session: Session, automation: Automation, now: datetime, zone) -> int:  # noqa: ANN001
    if automation.enabled_at is None:  # enabled by hand: nothing before this run counts
        automation.enabled_at = now
    previous = as_utc(automation.last_run_at)
    floor = None if previous is None else min(previous, now) - WATERMARK_SLACK
    automation.last_run_at = now  # committed with the occurrences, or not at all
    session.add(automation)
    session.flush()
    inserted = 0
    for due in _due_sets(session, automation, now, zone, floor):
        stamp = literal(now, type_=DateTime(timezone=True))
        rows = due.add_columns(literal(automation.id, type_=Integer), stamp)
        stmt = insert_ignore(session, _AO.__table__).from_select(
            ["customer_id", "occurrence", "automation_id", "created_at"], rows
        )
        # RETURNING counts what went in: PostgreSQL's rowcount of this statement is unreliable.
        inserted += len(session.execute(stmt.returning(_AO.id)).all())
    session.commit()
    return inserted


def due_select(session: Session, automation: Automation, now: datetime) -> list[Select]:
    """The SELECTs of (customer_id, occurrence) due now, reading everyone (public for tests)."""
    zone = zone_or_utc(business_identity(session).timezone)
    return _due_sets(session, automation, as_utc(now) or now, zone, None)


def _due_sets(
    session: Session,
    automation: Automation,
    now: datetime,
    zone,  # noqa: ANN001
    floor: datetime | None,
) -> list[Select]:
    """`floor`: read only customers something happened to after it (None: everyone)."""
    kind = automation.kind
    if kind == AutomationKind.SECOND_CHANCE:
        return _second_chance(session, automation, now)
    if kind == AutomationKind.WELCOME:
        return [_welcome(automation, now, floor)]
    if kind == AutomationKind.WINBACK:
        return [_winback(automation, now, zone, floor)]
    if kind == AutomationKind.BIRTHDAY:
        return [_birthday(automation, now, zone)]
    return [_thank_you(automation, now)]


def _reachable(automation: Automation) -> ColumnElement[bool]:
    return or_(*[reachable_clause(c) for c in channels_of(automation.channel)])


def _since(automation: Automation) -> datetime:
    assert automation.enabled_at is not None
    return as_utc(automation.enabled_at)  # type: ignore[return-value]


def _text(value: str) -> ColumnElement[str]:
    return literal(value, type_=String)


def _welcome(automation: Automation, now: datetime, floor: datetime | None) -> Select:
    delay = timedelta(hours=automation.delay_hours)
    oldest = _since(automation) if floor is None else max(_since(automation), floor - delay)
    consent = [
        ConsentEvent.granted.is_(True),
        ConsentEvent.channel.in_([c.value for c in channels_of(automation.channel)]),
        ConsentEvent.created_at <= now - delay,
        ConsentEvent.created_at >= oldest,
    ]
    if not automation.include_imports:
        consent.append(ConsentEvent.source != IMPORT_SOURCE)
    # IN, not a correlated EXISTS: the database starts from the (indexed) consent window.
    granted = select(ConsentEvent.customer_id).where(*consent)
    return select(Customer.id, _text("welcome")).where(
        _reachable(automation), Customer.id.in_(granted)
    )


def birthday_in(year: int, month: int, day: int) -> date:
    """The day a birthday is celebrated in `year`: 29 February is 28 February in other years.

    (A private copy of the rule for the engine; core/visits.py validates the stored date.)
    """
    try:
        return date(year, month, day)
    except ValueError:
        return date(year, 2, 28)


def _birthday(automation: Automation, now: datetime, zone) -> Select:  # noqa: ANN001
    """Reads the indexed (month, day) window: a missed tick is caught up until the day itself."""
    today = now.astimezone(zone).date()
    keys_by_year: dict[int, set[int]] = {}
    for offset in range(max(automation.days_before, 0) + 1):
        day = today + timedelta(days=offset)
        keys = keys_by_year.setdefault(day.year, set())
        keys.add(day.month * 100 + day.day)
        if (day.month, day.day) == (2, 28) and birthday_in(day.year, 2, 29) == day:
            keys.add(229)
    key = Customer.birthday_month * 100 + Customer.birthday_day
    years = sorted(keys_by_year)
    occurrence = (
        _text(str(years[0]))
        if len(years) == 1
        else case(
            (key.in_(sorted(keys_by_year[years[0]])), _text(str(years[0]))),
            else_=_text(str(years[1])),
        )
    )
    wanted = sorted(set().union(*keys_by_year.values()))
    born = aliased(Customer)  # IN a subquery of (month, day) pairs: the birthday index answers
    on_a_wanted_day = or_(
        *[and_(born.birthday_month == k // 100, born.birthday_day == k % 100) for k in wanted]
    )
    return select(Customer.id, occurrence).where(
        Customer.id.in_(select(born.id).where(on_a_wanted_day)), _reachable(automation)
    )


def _not_sent_within(automation: Automation, now: datetime, days: int) -> ColumnElement[bool]:
    """No occurrence of this automation for the customer in the last `days` days."""
    if days <= 0:
        return literal(True)
    return not_(
        exists().where(
            _AO.automation_id == automation.id,
            _AO.customer_id == Customer.id,
            _AO.created_at > now - timedelta(days=days),
        )
    )


def _winback(automation: Automation, now: datetime, zone, floor: datetime | None) -> Select:  # noqa: ANN001
    period = automation.period_days if automation.period_days > 0 else automation.inactive_days
    period = max(period, 1)
    bucket = (now.astimezone(zone).date() - date(1970, 1, 1)).days // period
    lapsed_before = now - timedelta(days=automation.inactive_days)
    due = select(Customer.id, _text(f"p{bucket}")).where(
        _reachable(automation),
        Customer.last_visit_at.is_not(None),
        Customer.last_visit_at <= lapsed_before,
        _not_sent_within(automation, now, period),
    )
    if floor is None:
        return due
    inactive = timedelta(days=automation.inactive_days)
    # Since the previous run: who crossed the inactivity threshold, whose last win-back's
    # period ran out, and who became reachable again (consent granted).
    crossed = select(Customer.id).where(
        Customer.last_visit_at > floor - inactive, Customer.last_visit_at <= lapsed_before
    )
    period_over = select(_AO.customer_id).where(
        _AO.automation_id == automation.id,
        _AO.created_at > floor - timedelta(days=period),
        _AO.created_at <= now - timedelta(days=period),
    )
    consented = select(ConsentEvent.customer_id).where(
        ConsentEvent.created_at > floor, ConsentEvent.granted.is_(True)
    )
    return due.where(Customer.id.in_(crossed.union(period_over, consented)))


def _thank_you(automation: Automation, now: datetime) -> Select:
    newest = now - timedelta(hours=automation.delay_hours)
    oldest = max(newest - THANK_YOU_WINDOW, _since(automation))
    later = aliased(Visit)
    latest = (
        select(later.id)
        .where(later.customer_id == Visit.customer_id, later.at <= newest, later.at >= oldest)
        .order_by(later.at.desc(), later.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    occurrence = _text("visit:") + cast(Visit.id, String)
    thankable = exists().where(  # read per visit: the visits of the window drive the query
        Customer.id == Visit.customer_id,
        _reachable(automation),
        _not_sent_within(automation, now, automation.period_days),
    )
    return select(Visit.customer_id, occurrence).where(
        Visit.at <= newest, Visit.at >= oldest, Visit.id == latest, thankable
    )


def _second_chance_campaigns(
    session: Session, automation: Automation, now: datetime
) -> list[Campaign]:
    candidates = session.execute(
        select(Campaign).where(
            Campaign.automation_id.is_(None),
            Campaign.second_chance_hours > 0,
            Campaign.sent_at.is_not(None),
            Campaign.sent_at >= _since(automation) - timedelta(days=30),
            Campaign.status.in_(statuses.values((CampaignStatus.SENDING, CampaignStatus.SENT))),
            Campaign.track_opens_clicks.is_(True),
            Campaign.channel.in_(["email", "both"]),
        )
    ).scalars()
    due = []
    for campaign in candidates:
        moment = as_utc(campaign.sent_at) + timedelta(hours=campaign.second_chance_hours or 0)  # type: ignore[operator]
        if _since(automation) <= moment <= now <= moment + SECOND_CHANCE_WINDOW:
            due.append(campaign)
    return due


def _second_chance(session: Session, automation: Automation, now: datetime) -> list[Select]:
    selects = []
    for campaign in _second_chance_campaigns(session, automation, now):
        engaged = exists().where(
            Event.delivery_id == Delivery.id,
            Event.type.in_([EventType.OPENED.value, EventType.CLICKED.value]),
        )
        selects.append(
            select(Delivery.customer_id, _text(f"campaign:{campaign.id}")).where(
                Delivery.campaign_id == campaign.id,
                Delivery.channel == Channel.EMAIL.value,
                Delivery.status.in_(statuses.values(statuses.ACCEPTED)),
                Delivery.sent_at <= now - timedelta(hours=campaign.second_chance_hours or 0),
                not_(engaged),
            )
        )
    return selects


# 2. Occurrences -> a batch; 3. batch -> send ----------------------------------------------------


def _is_batch() -> ColumnElement[bool]:
    """A campaign that holds occurrences (templates never do)."""
    return exists().where(_AO.campaign_id == Campaign.id)


def _attach_pending(session: Session, automation: Automation, now: datetime, zone) -> None:  # noqa: ANN001
    pending = select(_AO.occurrence).where(
        _AO.automation_id == automation.id, _AO.campaign_id.is_(None)
    )
    if automation.kind == AutomationKind.SECOND_CHANCE:
        groups = list(session.execute(pending.distinct()).scalars())
    else:
        groups = [None] if session.execute(pending.limit(1)).first() else []
    for occurrence in groups:
        batch = _new_batch(session, automation, occurrence, now, zone)
        if batch is None:
            continue
        session.add(batch)
        session.flush()
        attach = update(_AO).where(_AO.automation_id == automation.id, _AO.campaign_id.is_(None))
        if occurrence is not None:
            attach = attach.where(_AO.occurrence == occurrence)
        if session.execute(attach.values(campaign_id=batch.id)).rowcount:
            session.commit()
        else:
            session.rollback()  # another run attached them first: drop this copy


def _new_batch(
    session: Session,
    automation: Automation,
    occurrence: str | None,
    now: datetime,
    zone,  # noqa: ANN001
) -> Campaign | None:
    label = _NAMES[AutomationKind(automation.kind)]
    if occurrence is None:
        source = session.get(Campaign, automation.template_campaign_id)
        name = f"{label} · {now.astimezone(zone):%Y-%m-%d}"
        subject = source.subject if source else ""
        channel = automation.channel  # the owner's choice; config checks the message has it
    else:
        source = session.get(Campaign, int(occurrence.split(":", 1)[1]))
        name = f"{label} · {source.name}" if source else label
        subject = (source.second_chance_subject or source.subject) if source else ""
        channel = Channel.EMAIL.value
    if source is None:
        return None
    expires, coupons = source.offer_expires_at, source.has_qr_code  # second chance: as the original
    if occurrence is None:  # an automation's own offer: a coupon only when it has a validity
        coupons = source.has_qr_code and automation.offer_valid_days > 0
        expires = now + timedelta(days=automation.offer_valid_days) if coupons else None
    return Campaign(
        name=name[:200],
        channel=channel,
        subject=subject,
        preheader=source.preheader,
        from_name=source.from_name,
        from_email=source.from_email,
        template_name=source.template_name,
        mjml_body=source.mjml_body,
        sms_body=source.sms_body,
        has_qr_code=coupons,
        offer_text=source.offer_text,
        offer_expires_at=expires,
        track_opens_clicks=source.track_opens_clicks,
        status=CampaignStatus.DRAFT.value,
        automation_id=automation.id,
        created_at=now,
        updated_at=now,
    )


def _start_unsent(session: Session, automation: Automation) -> list[int]:
    """Start every draft batch of this automation (new, or left by a crash)."""
    drafts = session.execute(
        select(Campaign.id)
        .where(
            Campaign.automation_id == automation.id,
            Campaign.status == CampaignStatus.DRAFT,
            _is_batch(),
        )
        .order_by(Campaign.id)
    ).scalars()
    started = []
    for batch_id in list(drafts):
        customers = select(_AO.customer_id).where(_AO.campaign_id == batch_id)
        if sending.start_batch(session, batch_id, customers).created:
            started.append(batch_id)
    return started
