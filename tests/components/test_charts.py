"""Plotly figures: campaign names are text, never markup (plotly reads <b>, <a>, <br> in labels)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from marketing_ui.components.charts import funnel_figure, rates_figure, redemption_figure
from marketing_ui.core.analytics.reports import CampaignFunnelRow, Funnel

HOSTILE = "<b>x</b>"


def _row(campaign_id: int, name: str, channel: str = "email", **counts: int) -> CampaignFunnelRow:
    funnel = Funnel(channel, **counts)
    return CampaignFunnelRow(campaign_id, name, channel, datetime(2026, 11, 30, tzinfo=UTC), funnel)


def test_a_campaign_named_with_markup_is_shown_as_its_text() -> None:
    rows = [_row(1, HOSTILE, sent=10, delivered=9, opened_unique=4, coupons_issued=10, redeemed=3)]

    for figure in (rates_figure(rows), redemption_figure(rows)):
        drawn = json.dumps(figure.to_plotly_json())
        assert "<b>" not in drawn and "<\\/b>" not in drawn
        for trace in figure.data:
            assert list(trace.x) == ["&lt;b&gt;x&lt;/b&gt;"]


def test_a_rate_that_does_not_apply_draws_no_bar() -> None:
    rows = [_row(1, "Text blast", "sms", sent=10, clicked_unique=2)]

    bars = {trace.name: list(trace.y) for trace in rates_figure(rows).data}

    assert bars["Opened"] == [None]  # SMS has no opens: no bar rather than a 0% one
    assert bars["Clicked"] == [20.0]


def test_a_few_campaigns_label_their_bars_so_zero_is_seen() -> None:
    few = [_row(1, "Monday special", sent=4, email_sent=4, sent_without_receipts=4)]
    labels = {trace.name: list(trace.text) for trace in rates_figure(few).data}
    assert labels == {"Delivered": [None], "Opened": ["0%"], "Clicked": ["0%"]}

    many = [_row(i, f"Campaign {i}", sent=10, opened_unique=5) for i in range(9)]
    assert all(trace.text is None for trace in rates_figure(many).data)  # too many to label


def test_funnel_stages_that_do_not_apply_show_a_dash_not_zero() -> None:
    sms = Funnel("sms", targeted=5, sent=5, delivered=4, clicked_unique=1)
    outbox = Funnel("email", targeted=3, sent=3, email_sent=3, sent_without_receipts=3)

    figure = funnel_figure({"sms": sms, "email": outbox})

    stages = {trace.name: dict(zip(trace.y, zip(trace.x, trace.text, strict=True), strict=True))
              for trace in figure.data}  # fmt: skip
    assert stages["SMS"]["Opened (unique)"] == (None, "–")
    assert stages["SMS"]["Delivered"] == (4, "4")
    assert stages["EMAIL"]["Delivered"] == (None, "–")
    assert stages["EMAIL"]["Opened (unique)"] == (0, "0")


def test_an_hourly_series_of_one_point_is_drawn_as_points() -> None:
    from marketing_ui.components.charts import hourly_figure
    from marketing_ui.core.analytics.reports import HourPoint

    one = [HourPoint(0, 0, 0, 1)]
    day = [HourPoint(h, h, 0, 0) for h in range(24)]

    assert {t.mode for t in hourly_figure(one, show_machine=True).data} == {"lines+markers"}
    assert {t.mode for t in hourly_figure(day).data} == {"lines"}
    short = hourly_figure(one).layout
    assert (short.xaxis.tick0, short.xaxis.dtick) == (0, 1)  # whole hours from the send
    assert short.xaxis.range[0] < 0 < 1 < short.xaxis.range[1]  # hour 0 not cut by the edge
    assert short.yaxis.dtick == 1 and short.yaxis.range[1] > 1  # one redemption: whole counts
    long = hourly_figure(day).layout
    assert long.xaxis.dtick is None and long.xaxis.range is None and long.yaxis.dtick is None


def test_the_revenue_bar_says_it_carries_the_return() -> None:
    from marketing_ui.components.charts import revenue_figure
    from marketing_ui.core.analytics.revenue import Earnings, MoneyCounts
    from marketing_ui.core.app_settings import MoneySettings

    spent = Earnings(MoneyCounts(redemptions=1, emails=4, recipients=4), MoneySettings())
    earned = Earnings(MoneyCounts(revenue_minor=2000, emails=4, recipients=4), MoneySettings())
    nothing = Earnings(MoneyCounts(), MoneySettings())

    figure = revenue_figure([("Monday", spent), ("Friday", earned), ("Draft", nothing)])

    revenue = next(t for t in figure.data if t.name == "Revenue")
    assert list(revenue.x) == ["Monday", "Friday"]  # nothing earned or spent: not drawn
    assert list(revenue.text) == ["return -100.0%", "return 1249900.0%"]
