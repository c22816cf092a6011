"""Deciding A/B tests: after the window the periodic tick picks the winner; the owner may first.

The winner is the variant with the most unique human clickers, or redemptions, per recipient
reached in the test share (core/analytics/ab.py, `pick_winner`: a tie or no data keeps A).
`commands.send_winner` then freezes the rest exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from marketing_ui.core import ab_tests, statuses
from marketing_ui.core.analytics.ab import pick_winner, variant_totals
from marketing_ui.core.clock import as_utc, utcnow
from marketing_ui.core.models import AbPhase, Campaign, CampaignStatus
from marketing_ui.core.sending.commands import SendError, send_winner


@dataclass(frozen=True)
class Decision:
    """One decided test: the winner, why, and how many more messages it queued."""

    campaign_id: int
    variant_id: int
    why: str
    added: int


def decide_at(campaign: Campaign) -> datetime | None:
    """When the window ends (None: no test waiting)."""
    if campaign.ab_phase != AbPhase.TESTING or campaign.sent_at is None:
        return None
    return as_utc(campaign.sent_at) + timedelta(hours=campaign.ab_window_hours)


def decide_due(session: Session, now: datetime | None = None) -> list[Decision]:
    """Decide every sending campaign whose test window has passed (a paused one waits). Commits."""
    now = now or utcnow()
    testing = session.execute(
        select(Campaign).where(
            Campaign.ab_phase == AbPhase.TESTING.value,
            Campaign.status == CampaignStatus.SENDING.value,
        )
    ).scalars()
    decided = []
    for campaign in list(testing):
        due = decide_at(campaign)
        if due is None or due > now:
            continue
        assert campaign.id is not None
        winner, why = pick_winner(variant_totals(session, campaign), campaign.ab_metric)
        if winner is None:
            continue
        added = send_winner(session, campaign.id, winner, f"Automatic: {why}")
        if added is not None:
            decided.append(Decision(campaign.id, winner, why, added))
    return decided


def pick_by_hand(session: Session, campaign_id: int, label: str) -> Decision:
    """The owner picks the winner before the window ends (audited). Commits."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise SendError(f"Campaign #{campaign_id} does not exist.")
    if campaign.ab_phase != AbPhase.TESTING:
        raise SendError("This campaign has no A/B test waiting for a winner.")
    if campaign.status not in statuses.IN_PROGRESS:
        raise SendError(f"A {campaign.status} campaign sends nothing more.")
    chosen = next((v for v in ab_tests.variants(session, campaign_id) if v.label == label), None)
    if chosen is None or chosen.id is None:
        raise SendError(f"There is no variant {label!r} in this test.")
    why = f"Variant {chosen.label} picked by hand."
    added = send_winner(session, campaign_id, chosen.id, why)
    if added is None:
        raise SendError("The test was decided a moment ago; nothing more was queued.")
    return Decision(campaign_id, chosen.id, why, added)
