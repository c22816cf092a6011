"""A campaign's audience: who receives it on each channel, after consent and suppression, in SQL."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, not_, or_, select
from sqlmodel import Session

from marketing_ui.core.customers import has_tag_clause
from marketing_ui.core.models import CampaignChannel, Channel, Customer, Segment, Suppression
from marketing_ui.core.segments import compile_rules, segment_rules


@dataclass
class Audience:
    """Everyone with consent, or the union of some segments and tags, minus exclusions."""

    everyone: bool = True
    segment_ids: list[int] = field(default_factory=list)
    tag_ids: list[int] = field(default_factory=list)
    exclude_segment_ids: list[int] = field(default_factory=list)
    exclude_tag_ids: list[int] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | None) -> Audience:
        data = json.loads(raw or "{}") or {}
        if not isinstance(data, dict):
            raise ValueError("audience must be a JSON object")
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        audience = cls(**known)
        for name in ("segment_ids", "tag_ids", "exclude_segment_ids", "exclude_tag_ids"):
            values = getattr(audience, name)
            if not isinstance(values, list) or not all(isinstance(v, int) for v in values):
                raise ValueError(f"audience {name} must be a list of ids")
        return audience

    def describe(self, segment_names: dict[int, str], tag_names: dict[int, str]) -> str:
        parts = ["Everyone with consent"] if self.everyone else []
        parts += [f"segment {segment_names.get(i, i)}" for i in self.segment_ids]
        parts += [f"tag {tag_names.get(i, i)}" for i in self.tag_ids]
        text = ", ".join(parts) or "Nobody selected"
        excluded = [f"segment {segment_names.get(i, i)}" for i in self.exclude_segment_ids]
        excluded += [f"tag {tag_names.get(i, i)}" for i in self.exclude_tag_ids]
        return text + (f" — excluding {', '.join(excluded)}" if excluded else "")


def channels_of(campaign_channel: str) -> list[Channel]:
    if campaign_channel == CampaignChannel.BOTH:
        return [Channel.EMAIL, Channel.SMS]
    return [Channel(campaign_channel)]


def _segments_clause(session: Session, segment_ids: list[int]) -> ColumnElement[bool]:
    if not segment_ids:
        return false()
    rows = session.execute(select(Segment).where(Segment.id.in_(segment_ids))).scalars().all()
    if len(rows) != len(set(segment_ids)):
        raise ValueError("the audience names a segment that no longer exists")
    return or_(*[compile_rules(segment_rules(s)) for s in rows])


def reachable_clause(channel: Channel) -> ColumnElement[bool]:
    """Consent given, a contact on file, and not suppressed for this channel."""
    bidx = Customer.email_bidx if channel == Channel.EMAIL else Customer.phone_bidx
    consent = Customer.email_consent if channel == Channel.EMAIL else Customer.sms_consent
    suppressed = exists().where(
        Suppression.channel == channel.value, Suppression.value_bidx == bidx
    )
    return and_(consent.is_(True), bidx.is_not(None), not_(suppressed))


def audience_clause(session: Session, audience: Audience, channel: Channel) -> ColumnElement[bool]:
    include = (
        or_(
            _segments_clause(session, audience.segment_ids),
            has_tag_clause(audience.tag_ids) if audience.tag_ids else false(),
        )
        if not audience.everyone
        else None
    )
    clauses = [reachable_clause(channel)]
    if include is not None:
        clauses.append(include)
    if audience.exclude_segment_ids:
        clauses.append(not_(_segments_clause(session, audience.exclude_segment_ids)))
    if audience.exclude_tag_ids:
        clauses.append(not_(has_tag_clause(audience.exclude_tag_ids)))
    return and_(*clauses)


def recipients_select(session: Session, audience: Audience, channel: Channel) -> Select:
    """SELECT customer.id of everyone this audience reaches on `channel` (used to freeze a send)."""
    return select(Customer.id).where(audience_clause(session, audience, channel))


def recipient_counts(session: Session, audience: Audience, campaign_channel: str) -> dict[str, int]:
    """Exact recipients per channel after consent and suppression."""
    return {
        ch.value: session.execute(
            select(func.count(Customer.id)).where(audience_clause(session, audience, ch))
        ).scalar_one()
        for ch in channels_of(campaign_channel)
    }
