"""Campaign analytics: funnels, time series, links and the overview, all from SQL aggregates.

- `rollup`: events folded incrementally into small tables (`refresh_rollups`).
- `reports`: what the pages read (funnel, hourly, links, overview) and their filters.
- `export`: the CSV export, one entry per chart table.
- `queries` (+ `queries.sql`): every SQL statement of the above, by name; `hours`: UTC buckets.

This module re-exports the public API, so callers can write `analytics.overview(...)`.
See docs/analytics.md for definitions and the rollup design.
"""

from marketing_ui.core.analytics.export import CAMPAIGN_TABLES, OVERVIEW_TABLES, export_table
from marketing_ui.core.analytics.reports import (
    CHANNEL_CHOICES,
    AudiencePoint,
    CampaignFunnelRow,
    CampaignReport,
    ConsentPoint,
    DayPoint,
    FailureReason,
    Filters,
    Funnel,
    HourPoint,
    LinkStat,
    Overview,
    audience_growth,
    campaign_funnel,
    campaign_hourly,
    campaign_rows,
    channels_sent,
    consent_changes,
    daily_trend,
    overview,
    parse_filters,
    top_links,
)
from marketing_ui.core.analytics.rollup import (
    LIVE_CAMPAIGN_STATUSES,
    SENT_STATUSES,
    RefreshResult,
    refresh_rollups,
)

__all__ = [
    "CAMPAIGN_TABLES",
    "CHANNEL_CHOICES",
    "LIVE_CAMPAIGN_STATUSES",
    "OVERVIEW_TABLES",
    "SENT_STATUSES",
    "AudiencePoint",
    "CampaignFunnelRow",
    "CampaignReport",
    "ConsentPoint",
    "DayPoint",
    "FailureReason",
    "Filters",
    "Funnel",
    "HourPoint",
    "LinkStat",
    "Overview",
    "RefreshResult",
    "audience_growth",
    "campaign_funnel",
    "campaign_hourly",
    "campaign_rows",
    "channels_sent",
    "consent_changes",
    "daily_trend",
    "export_table",
    "overview",
    "parse_filters",
    "refresh_rollups",
    "top_links",
]
