"""Campaigns: list, create, edit (only before sending), duplicate, delete or archive, send checks.

Pages and the send pipeline call these functions; none of them import Reflex. Edits go through
one conditional UPDATE (status still editable, optional expected version) that bumps `version`,
so an edit racing the start of a send either lands before it or is refused, never half-applied,
and the render cache keyed on the version never serves a stale body.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import case, delete, exists, func, or_, select, update
from sqlmodel import Session

from marketing_ui.core import ab_tests, audit, statuses
from marketing_ui.core.app_settings import business_identity
from marketing_ui.core.audience import Audience
from marketing_ui.core.clock import as_utc, utcnow, zone_or_utc
from marketing_ui.core.deliverability import campaign_pause_message
from marketing_ui.core.messages import compiled_email
from marketing_ui.core.models import (
    Automation,
    Campaign,
    CampaignChannel,
    CampaignVariant,
    Delivery,
    Event,
    Segment,
    Tag,
)
from marketing_ui.core.rendering import TemplateError, check_template, load_template
from marketing_ui.core.rendering import list_templates as library_templates
from marketing_ui.core.sending import holdout
from marketing_ui.core.sms import compile_sms

EDITABLE_STATUSES = statuses.EDITABLE
DELETABLE_STATUSES = statuses.DELETABLE
# A campaign that is going out (or may resume) cannot be archived out of sight.
UNARCHIVABLE_STATUSES = statuses.UNFINISHED
SORTS = ("created", "name", "sent")
MAX_PAGE_SIZE = 100

# Fields an edit may change; everything else (status, version, dates) belongs to the pipeline.
EDITABLE_FIELDS = frozenset(
    {
        "name",
        "channel",
        "subject",
        "preheader",
        "from_name",
        "from_email",
        "template_name",
        "mjml_body",
        "sms_body",
        "has_qr_code",
        "offer_text",
        "offer_expires_at",
        "track_opens_clicks",
        "second_chance_hours",
        "second_chance_subject",
    }
)
SECOND_CHANCE_HOURS = (1, 336)  # resend to non-openers after 1 hour to 2 weeks
_SENT_STATUSES = statuses.REACHED
_FAILED_STATUSES = statuses.UNDELIVERED


class CampaignError(ValueError):
    """An action the campaign's state does not allow; the message tells the user what to do."""


@dataclass(frozen=True)
class CampaignRow:
    """One line of the campaign list with its headline numbers."""

    id: int
    name: str
    channel: str
    status: str
    audience_json: str
    archived: bool
    created_at: datetime
    sent_at: datetime | None
    scheduled_at: datetime | None
    has_qr_code: bool = False
    recipients: int = 0
    sent: int = 0
    failed: int = 0
    pause_message: str = ""  # why the deliverability guard paused it ("" if it did not)

    @property
    def has_history(self) -> bool:
        return self.recipients > 0


@dataclass(frozen=True)
class CampaignPage:
    rows: list[CampaignRow]
    total: int
    offset: int
    limit: int

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.rows) < self.total


@dataclass(frozen=True)
class HeadlineNumbers:
    recipients: int = 0
    sent: int = 0
    failed: int = 0


@dataclass
class CampaignFilter:
    status: str | None = None
    search: str = ""
    archived: bool = False
    sort: str = "created"


# Reading ---------------------------------------------------------------------------------


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignError(f"Campaign {campaign_id} does not exist.")
    return campaign


def automation_of_template(session: Session, campaign_id: int) -> str | None:
    """The kind of automation whose message `campaign_id` is (None for any other campaign)."""
    return session.execute(
        select(Automation.kind).where(Automation.template_campaign_id == campaign_id)
    ).scalar_one_or_none()


def _refuse_if_automation(campaign: Campaign, action: str) -> None:
    if campaign.automation_id is not None:
        raise CampaignError(
            f"This campaign belongs to an automation and cannot be {action}; "
            "switch the automation off on the Automations page instead."
        )


def choices(session: Session, limit: int = 200) -> list[tuple[int, str]]:
    """(id, name) of the newest campaigns first, for a picker."""
    rows = session.execute(
        select(Campaign.id, Campaign.name)
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())
        .limit(limit)
    )
    return [(int(i), str(n)) for i, n in rows]


def headline_numbers(session: Session, campaign_ids: list[int]) -> dict[int, HeadlineNumbers]:
    """Recipients, sent and failed per campaign in one GROUP BY over deliveries."""
    if not campaign_ids:
        return {}
    query = (
        select(
            Delivery.campaign_id,
            func.count(),
            func.sum(case((Delivery.status.in_(_SENT_STATUSES), 1), else_=0)),
            func.sum(case((Delivery.status.in_(_FAILED_STATUSES), 1), else_=0)),
        )
        .where(Delivery.campaign_id.in_(campaign_ids))
        .group_by(Delivery.campaign_id)
    )
    return {
        cid: HeadlineNumbers(int(total), int(sent or 0), int(failed or 0))
        for cid, total, sent, failed in session.execute(query)
    }


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_campaigns(
    session: Session, filt: CampaignFilter | None = None, offset: int = 0, limit: int = 20
) -> CampaignPage:
    """One page of campaigns; small OFFSET paging is fine, a business has hundreds, not millions."""
    filt = filt or CampaignFilter()
    if filt.sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}")
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    offset = max(0, offset)
    # Automation messages and the batches they send live on the Automations page.
    conditions = [Campaign.archived.is_(filt.archived), Campaign.automation_id.is_(None)]
    if filt.status:
        conditions.append(Campaign.status == filt.status)
    if filt.search.strip():
        pattern = f"%{_escape_like(filt.search.strip().lower())}%"
        conditions.append(func.lower(Campaign.name).like(pattern, escape="\\"))
    order = {
        "created": (Campaign.created_at.desc(), Campaign.id.desc()),
        "name": (func.lower(Campaign.name), Campaign.id),
        "sent": (Campaign.sent_at.is_(None), Campaign.sent_at.desc(), Campaign.id.desc()),
    }[filt.sort]
    total = session.execute(select(func.count(Campaign.id)).where(*conditions)).scalar_one()
    campaigns = (
        session.execute(
            select(Campaign).where(*conditions).order_by(*order).offset(offset).limit(limit)
        )
        .scalars()
        .all()
    )
    numbers = headline_numbers(session, [c.id for c in campaigns])
    rows = [
        CampaignRow(
            id=c.id,
            name=c.name,
            channel=c.channel,
            status=c.status,
            audience_json=c.audience_json,
            archived=c.archived,
            created_at=as_utc(c.created_at),
            sent_at=as_utc(c.sent_at),
            scheduled_at=as_utc(c.scheduled_at),
            has_qr_code=c.has_qr_code,
            pause_message=campaign_pause_message(c),
            **vars(numbers.get(c.id, HeadlineNumbers())),
        )
        for c in campaigns
    ]
    return CampaignPage(rows, total, offset, limit)


def audience_summary(session: Session, audience_json: str) -> str:
    """ "Everyone with consent", "segment VIPs, tag pasta", … for the list and the send page."""
    try:
        audience = Audience.from_json(audience_json)
    except ValueError:
        return "Invalid audience"
    seg_ids = audience.segment_ids + audience.exclude_segment_ids
    tag_ids = audience.tag_ids + audience.exclude_tag_ids
    segments = (
        dict(session.execute(select(Segment.id, Segment.name).where(Segment.id.in_(seg_ids))).all())
        if seg_ids
        else {}
    )
    tags = (
        dict(session.execute(select(Tag.id, Tag.name).where(Tag.id.in_(tag_ids))).all())
        if tag_ids
        else {}
    )
    return audience.describe(segments, tags)


# Writing ---------------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    name = " ".join(str(name).split())
    if not name:
        raise CampaignError("A campaign needs a name.")
    if len(name) > 200:
        raise CampaignError("A campaign name can be at most 200 characters.")
    return name


def _check_channel(channel: str) -> str:
    if channel not in {c.value for c in CampaignChannel}:
        raise CampaignError("Channel must be email, sms or both.")
    return channel


def offer_expiry(day: date, timezone: str) -> datetime:
    """The end of `day` in the business's time zone: an offer holds all of its last day."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=zone_or_utc(timezone))


def create_campaign(
    session: Session,
    name: str,
    template_name: str = "blank",
    channel: str = CampaignChannel.EMAIL,
    **fields: Any,
) -> Campaign:
    """A new draft from a library template (subject and preheader included); sender from Settings.

    A template that promises a QR coupon (its header names an `offer`) starts with the coupon
    on, that offer and its expiry `offer_days` from today, so the preview shows the coupon.
    """
    info = next((t for t in library_templates() if t.name == template_name), None)
    if info is None:
        raise CampaignError(f"There is no template named {template_name!r}.")
    identity = business_identity(session)
    campaign = Campaign(
        name=_clean_name(name),
        channel=_check_channel(channel),
        template_name=template_name,
        mjml_body=load_template(template_name),
        subject=info.subject,
        preheader=info.preheader,
        from_name=identity.sender_name,
        from_email=identity.sender_email,
    )
    if info.offer_text:
        today = datetime.now(zone_or_utc(identity.timezone)).date()
        campaign.has_qr_code = True
        campaign.offer_text = info.offer_text
        campaign.offer_expires_at = offer_expiry(
            today + timedelta(days=info.offer_days), identity.timezone
        ).astimezone(UTC)
    for key, value in _check_fields(fields).items():
        setattr(campaign, key, value)
    session.add(campaign)
    session.flush()
    audit.record(
        session, "campaign.create", "campaign", campaign.id, f"from template {template_name!r}"
    )
    session.commit()
    session.refresh(campaign)
    return campaign


def _check_fields(changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise CampaignError(f"These fields cannot be edited: {', '.join(sorted(unknown))}.")
    out = dict(changes)
    if "name" in out:
        out["name"] = _clean_name(out["name"])
    if "channel" in out:
        out["channel"] = _check_channel(out["channel"])
    for key in ("subject", "preheader", "from_name", "offer_text"):
        if key in out:
            value = " ".join(str(out[key]).split())  # header-bound: never a line break
            if len(value) > 255:
                raise CampaignError(f"{key.replace('_', ' ').capitalize()} is too long.")
            out[key] = value
    if "from_email" in out:
        out["from_email"] = str(out["from_email"]).strip()
    if out.get("offer_expires_at") is not None:
        out["offer_expires_at"] = as_utc(out["offer_expires_at"])
    if "second_chance_hours" in out:
        out["second_chance_hours"] = _second_chance_hours(out["second_chance_hours"])
    if "second_chance_subject" in out:
        out["second_chance_subject"] = " ".join(str(out["second_chance_subject"]).split())
        if len(out["second_chance_subject"]) > 255:
            raise CampaignError("Second chance subject is too long.")
    return out


def _second_chance_hours(raw: object) -> int | None:
    """Empty or None: no second chance; otherwise whole hours within SECOND_CHANCE_HOURS."""
    if raw is None or str(raw).strip() == "":
        return None
    low, high = SECOND_CHANCE_HOURS
    try:
        hours = int(str(raw).strip())
    except ValueError:
        raise CampaignError("Second chance hours must be a whole number.") from None
    if not low <= hours <= high:
        raise CampaignError(f"Second chance hours must be between {low} and {high}.")
    return hours


def check_second_chance(campaign: Campaign) -> None:
    """A second chance needs email (opens are known there) and a new subject of its own."""
    if campaign.second_chance_hours is None:
        return
    if campaign.channel == CampaignChannel.SMS:
        raise CampaignError(
            "Second chance resends emails to those who did not open them; "
            "it needs the email channel."
        )
    subject = campaign.second_chance_subject.strip()
    if not subject:
        raise CampaignError("Second chance subject is required when the resend is on.")
    if subject == campaign.subject.strip():
        raise CampaignError("Second chance subject must differ from the original subject.")


def check_content(campaign: Campaign) -> None:
    """Raise TemplateError (with its line) when the email or SMS body would not render."""
    if campaign.channel in (CampaignChannel.EMAIL, CampaignChannel.BOTH):
        check_template(campaign.mjml_body, campaign.subject, campaign.preheader)
    if campaign.channel in (CampaignChannel.SMS, CampaignChannel.BOTH) and campaign.sms_body:
        compile_sms(campaign.sms_body)


def update_campaign(
    session: Session,
    campaign_id: int,
    changes: dict[str, Any],
    expected_version: int | None = None,
) -> Campaign:
    """Apply an edit and bump the version; refused once sending started or if the body is broken.

    With `expected_version`, an edit made on a stale copy (another tab saved first) is refused
    instead of silently overwriting the newer one.
    """
    campaign = get_campaign(session, campaign_id)
    _refuse_if_locked(campaign)
    values = _check_fields(changes)
    trial = Campaign(**{**campaign.model_dump(), **values})
    check_second_chance(trial)
    try:
        check_content(trial)
    except TemplateError as exc:
        raise CampaignError(f"Not saved: {exc}") from None
    conditions = [Campaign.id == campaign_id, Campaign.status.in_(EDITABLE_STATUSES)]
    if expected_version is not None:
        conditions.append(Campaign.version == expected_version)
    result = session.execute(
        update(Campaign)
        .where(*conditions)
        .values(**values, version=Campaign.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.rollback()
        session.expire_all()
        current = get_campaign(session, campaign_id)
        _refuse_if_locked(current)
        raise CampaignError(
            "Someone else saved this campaign in the meantime; reload it to see their changes."
        )
    audit.record(
        session, "campaign.update", "campaign", campaign_id, "changed: " + ", ".join(sorted(values))
    )
    session.commit()
    session.expire_all()
    return get_campaign(session, campaign_id)


def _refuse_if_locked(campaign: Campaign) -> None:
    if campaign.status not in EDITABLE_STATUSES:
        raise CampaignError(
            f"This campaign is {campaign.status} and can no longer be edited; "
            "duplicate it to send a changed version."
        )


def duplicate_campaign(session: Session, campaign_id: int) -> Campaign:
    """A draft copy ("Copy of X") with the same content and audience; any status may be copied."""
    source = get_campaign(session, campaign_id)
    copy = Campaign(
        **{key: getattr(source, key) for key in EDITABLE_FIELDS},
        audience_json=source.audience_json,
        holdout_percent=source.holdout_percent,
        lift_window_days=source.lift_window_days,
        ab_test_percent=source.ab_test_percent,
        ab_metric=source.ab_metric,
        ab_window_hours=source.ab_window_hours,
    )
    copy.name = _clean_name(f"Copy of {source.name}"[:200])
    session.add(copy)
    session.flush()
    for variant in ab_tests.variants(
        session, campaign_id
    ):  # the A/B test's variants, not its result
        session.add(
            CampaignVariant(
                campaign_id=copy.id,
                label=variant.label,
                **{f: getattr(variant, f) for f in ab_tests.CONTENT_FIELDS},
            )
        )
    audit.record(session, "campaign.duplicate", "campaign", copy.id, f"copy of #{campaign_id}")
    session.commit()
    session.refresh(copy)
    return copy


def has_history(session: Session, campaign_id: int) -> bool:
    """True once anything was sent or recorded for the campaign: its record must be kept."""
    return bool(
        session.execute(
            select(
                or_(
                    exists().where(Delivery.campaign_id == campaign_id),
                    exists().where(Event.campaign_id == campaign_id),
                )
            )
        ).scalar()
    )


def delete_campaign(session: Session, campaign_id: int) -> None:
    """Erase a draft or cancelled campaign that never sent anything; otherwise say to archive."""
    campaign = get_campaign(session, campaign_id)
    _refuse_if_automation(campaign, "deleted")
    if has_history(session, campaign_id):
        raise CampaignError(
            "This campaign has sending history, which is kept for your records; archive it instead."
        )
    if campaign.status not in DELETABLE_STATUSES:
        raise CampaignError(f"A {campaign.status} campaign cannot be deleted; cancel it first.")
    deleted = session.execute(
        delete(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status.in_(DELETABLE_STATUSES))
        .execution_options(synchronize_session=False)
    )
    if deleted.rowcount != 1:
        session.rollback()
        raise CampaignError("The campaign changed while deleting it; reload and try again.")
    audit.record(session, "campaign.delete", "campaign", campaign_id, f"was {campaign.name!r}")
    session.commit()
    session.expunge_all()


def archive_campaign(session: Session, campaign_id: int, archived: bool = True) -> Campaign:
    """Hide a campaign from the list while keeping its deliveries, coupons and analytics."""
    campaign = get_campaign(session, campaign_id)
    _refuse_if_automation(campaign, "archived")
    if archived and campaign.status in UNARCHIVABLE_STATUSES:
        raise CampaignError(
            f"A {campaign.status} campaign cannot be archived; wait until it finishes or cancel it."
        )
    campaign.archived = archived
    campaign.updated_at = utcnow()
    session.add(campaign)
    action = "campaign.archive" if archived else "campaign.unarchive"
    audit.record(session, action, "campaign", campaign_id)
    session.commit()
    session.refresh(campaign)
    return campaign


def save_audience(session: Session, campaign_id: int, audience: Audience) -> Campaign:
    """Store the send page's audience choice (draft or scheduled only; the body is unchanged)."""
    campaign = get_campaign(session, campaign_id)
    _refuse_if_locked(campaign)
    campaign.audience_json = audience.to_json()
    campaign.updated_at = utcnow()
    session.add(campaign)
    audit.record(session, "campaign.audience", "campaign", campaign_id)
    session.commit()
    session.refresh(campaign)
    return campaign


def save_holdout(session: Session, campaign_id: int, raw: object) -> Campaign:
    """Store the send page's "hold out N% of the audience" (drafts and scheduled only). Commits.

    CampaignError naming the field when it is not a whole number from 0 to 50; the stored
    value is then unchanged.
    """
    campaign = get_campaign(session, campaign_id)
    _refuse_if_locked(campaign)
    _refuse_if_automation(campaign, "given a holdout")
    try:
        percent = holdout.parse_percent(raw)
    except ValueError as exc:
        raise CampaignError(str(exc)) from None
    if percent != campaign.holdout_percent:
        campaign.holdout_percent = percent
        campaign.updated_at = utcnow()
        session.add(campaign)
        audit.record(session, "campaign.holdout", "campaign", campaign_id, f"{percent}%")
    session.commit()
    session.refresh(campaign)
    return campaign


# Send checks -------------------------------------------------------------------------------


def validate_for_send(session: Session, campaign: Campaign) -> list[str]:
    """Everything that stops this campaign from going out, in words the owner can act on."""
    problems: list[str] = []
    kind = automation_of_template(session, campaign.id) if campaign.id else None
    if kind is not None:
        problems.append(
            f"This is the message of the {kind.replace('_', ' ')} automation; "
            "the automation sends it."
        )
    if campaign.status not in EDITABLE_STATUSES:
        problems.append(f"The campaign is {campaign.status}; only drafts can be sent.")
    if not campaign.name.strip():
        problems.append("The campaign needs a name.")
    email = campaign.channel in (CampaignChannel.EMAIL, CampaignChannel.BOTH)
    sms = campaign.channel in (CampaignChannel.SMS, CampaignChannel.BOTH)
    if email:
        if not campaign.subject.strip():
            problems.append("The email needs a subject.")
        if not campaign.from_name.strip():
            problems.append("The email needs a sender name.")
        try:
            validate_email(campaign.from_email, check_deliverability=False)
        except EmailNotValidError:
            problems.append("The sender address is missing or not a valid email address.")
        try:
            compiled_email(campaign)
        except (TemplateError, ValueError) as exc:
            problems.append(f"The email does not render: {exc}")
    if sms:
        if not campaign.sms_body.strip():
            problems.append("The SMS channel is selected but the SMS text is empty.")
        else:
            try:
                compile_sms(campaign.sms_body)
            except TemplateError as exc:
                problems.append(f"The SMS text does not render: {exc}")
    if campaign.has_qr_code:
        if not campaign.offer_text.strip():
            problems.append("A QR coupon needs offer text.")
        expires = as_utc(campaign.offer_expires_at)
        if expires is None:
            problems.append("A QR coupon needs an expiry date.")
        elif expires <= datetime.now(UTC):
            problems.append("The QR coupon's expiry date has already passed.")
    try:
        business_identity(session).validate()
    except ValueError as exc:
        problems.append(f"Business identity in Settings is incomplete: {exc}")
    try:
        audience = Audience.from_json(campaign.audience_json)
    except ValueError:
        problems.append("The saved audience is not valid; choose it again.")
    else:
        if not audience.everyone and not (audience.segment_ids or audience.tag_ids):
            problems.append("Choose who receives the campaign.")
    return problems
