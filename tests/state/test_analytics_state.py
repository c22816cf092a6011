"""The analytics pages' "include machine opens and clicks" toggle: people's numbers by default,
machine ones shown apart, everything counted when it is on, and the CSV links follow it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from marketing_ui.core import events
from marketing_ui.core.clock import utcnow
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Campaign, Customer, Delivery
from marketing_ui.state.analytics import AnalyticsState
from marketing_ui.state.campaign_analytics import CampaignAnalyticsState
from tests.state.conftest import page_state

URL = "https://bistro.example/menu"


def _campaign_with_a_reader_and_a_proxy() -> int:
    """Two emails sent an hour ago: one read by a person, one fetched by Apple's proxy."""
    sent_at = utcnow() - timedelta(hours=1)
    with session_scope() as session:
        campaign = Campaign(name="Monday special", channel="email", status="sent", sent_at=sent_at)
        session.add(campaign)
        session.flush()
        ids = []
        for name in ("Ann", "Bob"):
            customer = Customer(first_name=name)
            session.add(customer)
            session.flush()
            d = Delivery(campaign_id=campaign.id, customer_id=customer.id, channel="email",
                         status="delivered", sent_at=sent_at)  # fmt: skip
            session.add(d)
            session.flush()
            ids.append(d.id)
        reader, proxied = ids
        later = sent_at + timedelta(minutes=20)
        events.record_open(session, reader, at=later)
        events.record_click(session, reader, URL, at=later)
        events.record_open(session, proxied, at=later, user_agent_reason="apple_mpp")
        events.record_click(session, proxied, URL, at=sent_at + timedelta(seconds=2))
        return int(campaign.id)


def test_campaign_page_counts_people_unless_machine_events_are_included(
    admin_cookie: str,
) -> None:
    cid = _campaign_with_a_reader_and_a_proxy()
    state = page_state(CampaignAnalyticsState, f"/campaigns/{cid}/analytics",
                       {"campaign_id": str(cid)}, admin_cookie)  # fmt: skip
    state.load()
    f = state.funnel
    assert (f["opened_unique"], f["open_rate"], f["opens_split"]) == (
        "1",
        "50.0%",
        "1 human · 1 machine only · 1 machine opens",
    )
    clicks = (f["clicked_unique"], f["clicks_split"])
    assert clicks == ("1", "1 human · 1 machine only · 1 machine clicks")
    assert state.links == [{"url": URL, "clicks": "1", "unique": "1", "machine": "1"}]
    assert "machine=1" not in state.exports["funnel"]
    assert {t.name for t in state.hourly_fig.data} == {"Opens", "Clicks", "Redemptions"}

    state.set_include_machine(True)
    f = state.funnel
    assert (f["opened_unique"], f["open_rate"], f["opens_split"]) == (
        "2",
        "100.0%",
        "1 human · 1 machine only · 1 machine opens",
    )
    assert state.links == [{"url": URL, "clicks": "2", "unique": "2", "machine": "1"}]
    assert all("machine=1" in link for link in state.exports.values())
    lines = {t.name: sum(t.y) for t in state.hourly_fig.data}
    assert (lines["Opens"], lines["Machine opens"]) == (1, 1)  # people solid, machines dashed

    state.clear_filters()
    assert not state.include_machine and state.funnel["opened_unique"] == "1"


def test_overview_rates_leave_machine_opens_out_unless_included(admin_cookie: str) -> None:
    _campaign_with_a_reader_and_a_proxy()
    state = page_state(AnalyticsState, "/analytics", cookie=admin_cookie)
    state.load()
    row = state.rows[0]
    assert (row["opened"], row["clicked"], row["opens_split"]) == ("50.0%", "50.0%", "1 · 1")
    state.set_include_machine(True)
    state.load()  # the handler returns the load event; the browser would run it next
    row = state.rows[0]
    assert (row["opened"], row["clicked"], row["opens_split"]) == ("100.0%", "100.0%", "1 · 1")
    assert "machine=1" in state.exports["campaigns"]


def test_overview_charts_revenue_next_to_message_cost(admin_cookie: str) -> None:
    """Two emails sent (priced by the Settings) and nothing redeemed yet: the chart shows the
    cost; no campaign priced anything: no chart, the explanation instead."""
    state = page_state(AnalyticsState, "/analytics", cookie=admin_cookie)
    state.load()
    assert state.has_revenue is False
    _campaign_with_a_reader_and_a_proxy()
    state.load()
    assert state.has_revenue is True
    bars = {trace["name"]: trace for trace in state.revenue_fig.to_dict()["data"]}
    assert set(bars) == {"Revenue", "Message cost"}
    assert list(bars["Revenue"]["x"]) == ["Monday special"]
    assert list(bars["Revenue"]["y"]) == [0.0]
    assert list(bars["Message cost"]["y"]) == [pytest.approx(2 * 0.0004)]
