"""The send page's "Hold out N% of the audience" and the analytics page's Holdout lift card."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from marketing_ui.core import campaigns
from marketing_ui.core.clock import utcnow
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Campaign, CampaignStatus, Customer, Delivery, Visit
from marketing_ui.state.analytics import AnalyticsState
from marketing_ui.state.campaign_analytics import CampaignAnalyticsState
from marketing_ui.state.campaign_send import CampaignSendState
from tests.state.conftest import page_state


def _send_page(campaign_id: int) -> CampaignSendState:
    state = page_state(
        CampaignSendState, f"/campaigns/{campaign_id}/send", {"campaign_id": str(campaign_id)}
    )
    state.load()
    return state


def _stored_percent(campaign_id: int) -> int:
    with session_scope() as session:
        return session.get(Campaign, campaign_id).holdout_percent


def test_the_holdout_option_is_stored_and_previewed(world: dict[str, int]) -> None:
    state = _send_page(world["campaign"])
    assert state.holdout_percent == "0" and state.holdout_note == ""

    state.set_holdout("50")

    assert _stored_percent(world["campaign"]) == 50 and state.holdout_error == ""
    # two consenting customers: about one held out, one messaged
    assert state.holdout_note.startswith("About 1 customers will be held out (50%")
    assert state.counts[0]["held_out"] == "about 1 held out (50%)"
    assert state.counts[0]["count"] == "1"
    assert _send_page(world["campaign"]).holdout_percent == "50"


@pytest.mark.parametrize("raw", ["51", "-5", "abc", "2.5"])
def test_a_bad_holdout_is_refused_by_name_and_the_old_value_kept(
    world: dict[str, int], raw: str
) -> None:
    state = _send_page(world["campaign"])
    state.set_holdout("10")
    state.set_holdout(raw)
    assert state.holdout_error.startswith("Hold out: ")
    assert _stored_percent(world["campaign"]) == 10 and state.holdout_percent == "10"


def _analytics_page(campaign_id: int) -> CampaignAnalyticsState:
    state = page_state(
        CampaignAnalyticsState,
        f"/campaigns/{campaign_id}/analytics",
        {"campaign_id": str(campaign_id)},
    )
    state.load()
    return state


def test_the_lift_card_shows_both_groups_and_the_window_can_change(
    world: dict[str, int],
) -> None:
    cid = world["campaign"]
    sent = utcnow() - timedelta(days=20)
    with session_scope() as session:
        session.execute(
            insert(Customer),
            [Customer(uid=f"h{i:031d}").model_dump(exclude={"id"}) for i in range(80)],
        )
        ids = sorted(session.execute(select(Customer.id).where(Customer.uid.like("h%"))).scalars())
        session.execute(
            update(Campaign)
            .where(Campaign.id == cid)
            .values(status=CampaignStatus.SENT.value, sent_at=sent, holdout_percent=40)
        )
        held, messaged = ids[:40], ids[40:]
        session.execute(
            insert(Delivery),
            [{"campaign_id": cid, "customer_id": c, "channel": "email",
              "status": "skipped" if c in held else "sent", "attempts": 0, "error": "",
              "skip_reason": "holdout" if c in held else "", "wait_reason": "",
              "created_at": sent, "updated_at": sent} for c in ids],
        )  # fmt: skip
        session.execute(
            insert(Visit),
            [{"customer_id": c, "at": sent + timedelta(days=2), "source": "check_in",
              "created_at": sent, "amount_minor": 2500, "currency": "USD"}
             for c in messaged[:20] + held[:4]],
        )  # fmt: skip
    state = _analytics_page(cid)

    assert state.has_lift
    assert state.lift_groups == "40 held out (40% chosen), 40 messaged"
    rate = {r["metric"]: r for r in state.lift_rows}["visit_rate"]
    assert (rate["messaged"], rate["held_out"]) == ("50.0%", "10.0%")
    assert rate["verdict"] == "messaged customers came back more"
    assert state.lift_summary == "Visit rate: messaged customers came back more."
    assert state.exports["lift"].endswith(f"campaign_id={cid}")
    assert len(state.lift_fig.data) == 6  # 3 metrics x 2 groups, with error bars
    assert state.funnel["held_out"] == "40"

    overview = page_state(AnalyticsState, "/analytics")
    overview.load()
    [row] = [r for r in overview.rows if r["id"] == str(cid)]
    assert row["lift"] == f"+40.0 pts ({rate['interval']})"

    state.set_lift_window("1")  # the visits two days after the send fall outside
    assert state.lift_error == ""
    assert {r["metric"]: r for r in state.lift_rows}["visit_rate"]["messaged"] == "0.0%"
    state.set_lift_window("91")
    assert state.lift_error.startswith("Lift window: ")
    with session_scope() as session:
        assert session.get(Campaign, cid).lift_window_days == 1


def test_no_card_for_a_campaign_without_holdout(world: dict[str, int]) -> None:
    assert not _analytics_page(world["campaign"]).has_lift
    with session_scope() as session:
        campaigns.save_holdout(session, world["campaign"], "10")
    state = _analytics_page(world["campaign"])
    assert state.has_lift and state.lift_rows == []
    assert "starts when the campaign is sent" in state.lift_window_text
