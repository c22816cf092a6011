"""What a campaign earned at the counter and what its messages cost (issue 16, item 1).

- revenue: the ticket amounts staff entered when redeeming the campaign's coupons, in the
  Settings currency. Only redemptions are attributed: a check-in visit with an amount, even the
  day after the message, is not (the pages say so).
- cost: SMS segments the provider accepted × the price per segment, plus emails accepted ×
  the price per email (Settings); counted in SQL per campaign, priced here in `Decimal`.
- return: (revenue − cost) / cost; None when nothing cost anything.
Amounts are integers in minor units until they are shown; nothing here is a float.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import Decimal

from sqlmodel import Session

from marketing_ui.core import money
from marketing_ui.core.analytics.queries import sql
from marketing_ui.core.analytics.rollup import SENT_STATUSES
from marketing_ui.core.app_settings import MoneySettings, money_settings

ATTRIBUTION_NOTE = (
    "Revenue counts the ticket amounts entered when this campaign's coupons were redeemed. "
    "Visits checked in with an amount after the message are not attributed."
)
_IN_CHUNK = 1000


@dataclass(frozen=True)
class MoneyCounts:
    """Counts that add up across campaigns (an automation's batches, a week)."""

    redemptions: int = 0
    with_amount: int = 0  # redemptions with a ticket amount in the Settings currency
    revenue_minor: int = 0
    other_currency: int = 0  # redemptions with an amount in another currency: not in revenue
    recipients: int = 0  # customers the providers accepted a message for
    emails: int = 0
    sms_segments: int = 0

    def __add__(self, other: MoneyCounts) -> MoneyCounts:
        return MoneyCounts(
            *(getattr(self, f.name) + getattr(other, f.name) for f in fields(MoneyCounts))
        )


@dataclass(frozen=True)
class Earnings:
    """Counts priced with the Settings: revenue, cost, revenue per recipient, return."""

    counts: MoneyCounts
    settings: MoneySettings

    @property
    def currency(self) -> str:
        return self.settings.currency

    @property
    def revenue(self) -> Decimal:
        return money.from_minor(self.counts.revenue_minor, self.currency)

    @property
    def sms_cost(self) -> Decimal:
        return self.counts.sms_segments * self.settings.sms_price

    @property
    def email_cost(self) -> Decimal:
        return self.counts.emails * self.settings.email_price_value

    @property
    def cost(self) -> Decimal:
        return self.sms_cost + self.email_cost

    @property
    def revenue_per_recipient(self) -> Decimal | None:
        return self.revenue / self.counts.recipients if self.counts.recipients else None

    @property
    def return_ratio(self) -> Decimal | None:
        """(revenue − cost) / cost: 3 means every unit spent on messages brought 3 more."""
        return (self.revenue - self.cost) / self.cost if self.cost else None

    def shown(self) -> dict[str, str]:
        """The numbers as the pages and the CSV show them ("–" where there is none)."""
        c, code = self.counts, self.currency
        per = self.revenue_per_recipient
        ret = self.return_ratio
        return {
            "redemptions": f"{c.redemptions:,}",
            "with_amount": f"{c.with_amount:,}",
            "other_currency": (
                f" ({c.other_currency:,} in another currency, not counted)"
                if c.other_currency
                else ""
            ),
            "revenue": money.format_amount(self.revenue, code),
            "recipients": f"{c.recipients:,}",
            "per_recipient": money.format_amount(per, code, 4) if per is not None else "–",
            "emails": f"{c.emails:,}",
            "sms_segments": f"{c.sms_segments:,}",
            "cost": money.format_amount(self.cost, code, 4),
            "return": f"{ret:.1%}" if ret is not None else "–",
        }

    def csv_values(self) -> list[str]:
        """revenue, revenue_per_recipient, message_cost, return as plain decimals."""
        per, ret = self.revenue_per_recipient, self.return_ratio
        return [
            str(self.revenue),
            "" if per is None else f"{per:.4f}",
            f"{self.cost:.4f}",
            "" if ret is None else f"{ret:.4f}",
        ]


CSV_COLUMNS = ("redemptions", "revenue", "revenue_per_recipient", "message_cost", "return")


def counts_by_campaign(
    session: Session, campaign_ids: Sequence[int], currency: str, channel: str | None = None
) -> dict[int, MoneyCounts]:
    """Campaign id -> its money counts (campaigns without any are left out)."""
    found: dict[int, dict[str, int]] = {}
    ids = sorted(set(campaign_ids))
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        params = {"ids": chunk, "channel": channel, "currency": currency}
        for cid, n, with_amount, revenue, other in session.execute(
            sql(session, "revenue-redemptions", channel), params
        ):
            found.setdefault(cid, {}).update(
                redemptions=int(n),
                with_amount=int(with_amount or 0),
                revenue_minor=int(revenue),
                other_currency=int(other or 0),
            )
        sent = [s.value for s in SENT_STATUSES]
        for cid, recipients, emails, segments in session.execute(
            sql(session, "revenue-messages", channel), params | {"sent": sent}
        ):
            found.setdefault(cid, {}).update(
                recipients=int(recipients), emails=int(emails or 0), sms_segments=int(segments or 0)
            )
    return {cid: MoneyCounts(**values) for cid, values in found.items()}


def campaign_earnings(session: Session, campaign_id: int, channel: str | None = None) -> Earnings:
    """One campaign's revenue, cost and return (all its redemptions, whatever their date)."""
    settings = money_settings(session)
    counts = counts_by_campaign(session, [campaign_id], settings.currency, channel)
    return Earnings(counts.get(campaign_id, MoneyCounts()), settings)


def earnings_by_campaign(
    session: Session, campaign_ids: Sequence[int], channel: str | None = None
) -> dict[int, Earnings]:
    """Earnings for each campaign id (zeros for a campaign with nothing)."""
    settings = money_settings(session)
    counts = counts_by_campaign(session, campaign_ids, settings.currency, channel)
    return {cid: Earnings(counts.get(cid, MoneyCounts()), settings) for cid in campaign_ids}
