"""A/B tests: a campaign's variants (A-D), the test's settings, who is in the test share.

A is the campaign's own content (copied into its row when the test is saved and again when the
send starts); B-D are the owner's. At the start the first freeze takes a random share of the
audience and gives each a variant at random, evenly (`test_draw`); the decision
(core/sending/ab_decision.py) later freezes the rest with the winner. A worker renders each
delivery with its variant's content (`campaigns_for_deliveries`). See docs/ab_tests.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, func, not_, or_, select
from sqlmodel import Session

from marketing_ui.core import audit, statuses
from marketing_ui.core.audience import channels_of
from marketing_ui.core.clock import utcnow
from marketing_ui.core.db import random_fraction
from marketing_ui.core.models import (
    AbMetric,
    AbPhase,
    Campaign,
    CampaignVariant,
    Channel,
    Customer,
    Delivery,
)

LABELS = "ABCD"
MAX_PERCENT = 50
MAX_WINDOW_HOURS = 24 * 30
CONTENT_FIELDS = ("subject", "preheader", "mjml_body", "sms_body", "offer_text")


class AbTestError(ValueError):
    """Bad A/B test settings; `field` names the form field the message belongs to."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class VariantDraft:
    """One variant's content as the editor holds it."""

    label: str
    subject: str = ""
    preheader: str = ""
    mjml_body: str = ""
    sms_body: str = ""
    offer_text: str = ""

    def content(self, fields: Sequence[str] = CONTENT_FIELDS) -> tuple[str, ...]:
        """What must differ between two variants (surrounding blanks do not count)."""
        return tuple(getattr(self, f).strip() for f in fields)


def used_fields(campaign: Campaign) -> tuple[str, ...]:
    """The content fields the campaign's recipients see: a change elsewhere is no variant."""
    channels = channels_of(campaign.channel)
    used = []
    if Channel.EMAIL in channels:
        used += ["subject", "preheader", "mjml_body"]
    if Channel.SMS in channels:
        used.append("sms_body")
    if campaign.has_qr_code:
        used.append("offer_text")
    return tuple(used)


@dataclass(frozen=True)
class AbSettings:
    """The test as the owner sets it: share of the audience (0: off), metric, window."""

    percent: int = 0
    metric: str = AbMetric.CLICKS.value
    window_hours: int = 24


def draft_of(campaign: Campaign, label: str = "A") -> VariantDraft:
    """The campaign's own content as a variant (A, or the start of a new one)."""
    return VariantDraft(label, *(getattr(campaign, f) for f in CONTENT_FIELDS))


def variants(session: Session, campaign_id: int) -> list[CampaignVariant]:
    """The stored variants, A first."""
    return list(
        session.execute(
            select(CampaignVariant)
            .where(CampaignVariant.campaign_id == campaign_id)
            .order_by(CampaignVariant.label)
        ).scalars()
    )


def drafts(session: Session, campaign: Campaign) -> list[VariantDraft]:
    """A (always the campaign's current content) then the stored B-D."""
    assert campaign.id is not None
    others = [
        VariantDraft(v.label, *(getattr(v, f) for f in CONTENT_FIELDS))
        for v in variants(session, campaign.id)
        if v.label != "A"
    ]
    return [draft_of(campaign), *others]


def parse_settings(percent: str | int, metric: str, window_hours: str | int) -> AbSettings:
    """Form text to settings, refusing junk by field name (ranges are checked by `validate`)."""
    try:
        share = int(str(percent).strip().rstrip("%").strip() or "0")
    except ValueError:
        raise AbTestError(
            "Test share must be a whole number of percent (0-50).", "ab_percent"
        ) from None
    try:
        window = int(str(window_hours).strip() or "0")
    except ValueError:
        raise AbTestError("Winner window must be a whole number of hours.", "ab_window") from None
    return AbSettings(share, metric, window)


def validate(campaign: Campaign, settings: AbSettings, drafts: Sequence[VariantDraft]) -> None:
    """Refuse what cannot be tested, naming the field. A share of 0 (no test) checks nothing else."""
    if not 0 <= settings.percent <= MAX_PERCENT:
        raise AbTestError(
            f"Test share must be between 0 and {MAX_PERCENT}% (0 switches the test off).",
            "ab_percent",
        )
    if settings.percent == 0:
        return
    if settings.metric not in {m.value for m in AbMetric}:
        raise AbTestError("Winner by must be clicks or redemptions.", "ab_metric")
    if settings.metric == AbMetric.REDEMPTIONS and not campaign.has_qr_code:
        raise AbTestError(
            "Winner by redemptions needs a QR offer: switch the offer on or pick clicks.",
            "ab_metric",
        )
    if not 1 <= settings.window_hours <= MAX_WINDOW_HOURS:
        raise AbTestError(
            f"Winner window must be at least 1 hour (at most {MAX_WINDOW_HOURS}).", "ab_window"
        )
    labels = [d.label for d in drafts]
    if len(drafts) < 2:
        raise AbTestError("An A/B test needs at least 2 variants: add variant B.", "ab_variants")
    if len(drafts) > len(LABELS) or labels != list(LABELS[: len(drafts)]):
        raise AbTestError("Variants are A to D, at most 4.", "ab_variants")
    fields = used_fields(campaign)
    for i, later in enumerate(drafts):
        for earlier in drafts[:i]:
            if later.content(fields) == earlier.content(fields):
                raise AbTestError(
                    f"Variant {later.label} is the same as {earlier.label}: change its subject, "
                    "content or offer.",
                    f"variant_{later.label}",
                )


def save_test(
    session: Session, campaign_id: int, settings: AbSettings, wanted: Sequence[VariantDraft]
) -> Campaign:
    """Store the test's settings and variants B-D (A is the campaign's content). Commits.

    Only before sending. `wanted` lists B-D (an A in it is ignored: A is always the campaign).
    Bad input changes nothing.
    """
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise AbTestError(f"Campaign #{campaign_id} does not exist.")
    if campaign.status not in statuses.EDITABLE:
        raise AbTestError(f"A {campaign.status} campaign's test can no longer change.")
    if campaign.automation_id is not None:
        raise AbTestError("An automation's message cannot be A/B tested.", "ab_percent")
    others = [d for d in wanted if d.label != "A"]
    all_drafts = [draft_of(campaign), *others]
    validate(campaign, settings, all_drafts)
    if settings.percent == 0 and len(all_drafts) > len(LABELS):
        raise AbTestError("Variants are A to D, at most 4.", "ab_variants")
    _store_variants(session, campaign_id, all_drafts)
    campaign.ab_test_percent = settings.percent
    campaign.ab_metric = settings.metric
    campaign.ab_window_hours = settings.window_hours
    campaign.updated_at = utcnow()
    session.add(campaign)
    summary = (
        f"{settings.percent}% test of {len(all_drafts)} variants by {settings.metric}, "
        f"{settings.window_hours} h"
        if settings.percent
        else f"no test ({len(all_drafts)} variants kept)"
    )
    audit.record(session, "campaign.ab_test", "campaign", campaign_id, summary)
    session.commit()
    session.refresh(campaign)
    return campaign


def _store_variants(session: Session, campaign_id: int, wanted: Sequence[VariantDraft]) -> None:
    """Make the stored rows exactly `wanted` (by label), keeping ids of labels that stay."""
    stored = {v.label: v for v in variants(session, campaign_id)}
    for draft in wanted:
        row = stored.pop(draft.label, None) or CampaignVariant(
            campaign_id=campaign_id, label=draft.label
        )
        for f in CONTENT_FIELDS:
            setattr(row, f, getattr(draft, f))
        session.add(row)
    for gone in stored.values():
        session.delete(gone)
    session.flush()


def prepare_test(
    session: Session, campaign: Campaign, check: Callable[[Campaign], None]
) -> list[int]:
    """At the start: the variant ids to draw from (A first), or [] when the send is no test.

    Copies the campaign's content into A, checks again that no two variants are the same and
    compiles each variant with `check` (a broken variant fails the click, not the send).
    Adds to the caller's session; raises AbTestError.
    """
    if campaign.ab_test_percent <= 0 or campaign.automation_id is not None:
        return []
    assert campaign.id is not None
    current = drafts(session, campaign)
    settings = AbSettings(campaign.ab_test_percent, campaign.ab_metric, campaign.ab_window_hours)
    if len(current) < 2:
        return []  # a share without variants: an ordinary send
    validate(campaign, settings, current)
    _store_variants(session, campaign.id, current)
    rows = variants(session, campaign.id)
    for row in rows:
        check(variant_campaign(campaign, row))
    return [v.id for v in rows if v.id is not None]


def test_draw(
    session: Session,
    campaign: Campaign,
    variant_ids: Sequence[int],
    channel: Channel,
    earlier: Sequence[Channel],
    recipients: Callable[[Channel], ColumnElement[bool]],
) -> tuple[ColumnElement[bool], ColumnElement]:
    """(who of this channel's recipients is in the test share, the variant id each gets).

    The first channel draws a random share (random in SQL, one draw per row) and deals the
    variants in a random order, one after the other, so their sizes differ by at most one.
    A later channel of the same campaign (email and SMS) keeps each customer's draw: one in the
    test on email gets the same variant by SMS; one not drawn there waits for the winner; only
    customers the earlier channels could not reach are drawn anew.
    """
    assert campaign.id is not None
    drawn_before = (
        select(Delivery.variant_id)
        .where(
            Delivery.campaign_id == campaign.id,
            Delivery.customer_id == Customer.id,
            Delivery.variant_id.is_not(None),
        )
        .limit(1)
        .scalar_subquery()
    )
    share = campaign.ab_test_percent / 100.0
    fresh = and_(*(not_(recipients(e)) for e in earlier), random_fraction(session) < share)
    who = or_(drawn_before.is_not(None), fresh)
    slot = (func.row_number().over(order_by=random_fraction(session)) - 1) % len(variant_ids)
    dealt = case(*((slot == i, vid) for i, vid in enumerate(variant_ids)))
    return who, func.coalesce(drawn_before, dealt)


def is_testing(campaign: Campaign) -> bool:
    return campaign.ab_phase == AbPhase.TESTING


# Rendering --------------------------------------------------------------------------------------


def variant_campaign(campaign: Campaign, variant: CampaignVariant) -> Campaign:
    """A detached copy of the campaign carrying the variant's content (never added to a session).

    The compiled-email cache keys on the content, so each variant compiles once per process.
    """
    copy = Campaign.model_validate(campaign.model_dump())
    for f in CONTENT_FIELDS:
        setattr(copy, f, getattr(variant, f))
    return copy


def campaigns_for_deliveries(
    session: Session, campaign: Campaign, delivery_ids: Sequence[int]
) -> dict[int, Campaign]:
    """delivery id -> the campaign as that delivery renders (its variant's copy); deliveries
    without a variant are left out (they render as the campaign). No query without a test."""
    if not campaign.ab_phase or not delivery_ids:
        return {}
    rows = session.execute(
        select(Delivery.id, Delivery.variant_id).where(
            Delivery.id.in_(list(delivery_ids)), Delivery.variant_id.is_not(None)
        )
    ).all()
    if not rows:
        return {}
    assert campaign.id is not None
    copies = {v.id: variant_campaign(campaign, v) for v in variants(session, campaign.id)}
    return {d: copies[v] for d, v in rows if v in copies}


def campaign_for_delivery(session: Session, campaign: Campaign, delivery_id: int) -> Campaign:
    """The campaign as one delivery renders (view online)."""
    return campaigns_for_deliveries(session, campaign, [delivery_id]).get(delivery_id, campaign)
