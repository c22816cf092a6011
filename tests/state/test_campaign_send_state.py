"""Send-confirm handlers: the audience pickers, exact counts, the checks, and scheduling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from marketing_ui.core import campaigns
from marketing_ui.core.audience import Audience
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Campaign
from marketing_ui.state.campaign_send import CampaignSendState
from tests.state.conftest import page_state


@pytest.fixture
def world(world: dict[str, int]) -> dict[str, int]:
    """The shared world, with the campaign ready to send."""
    with session_scope() as session:
        ready = {"subject": "This week", "from_name": "Cafe", "from_email": "hi@cafe.example"}
        campaigns.update_campaign(session, world["campaign"], ready)
    return world


def _page(campaign_id: int | str) -> CampaignSendState:
    path = f"/campaigns/{campaign_id}/send"
    state = page_state(CampaignSendState, path, {"campaign_id": str(campaign_id)})
    state.load()
    return state


def _stored(campaign_id: int) -> Campaign:
    with session_scope() as session:
        found = session.get(Campaign, campaign_id)
        assert found is not None
        return found


def test_load_counts_everyone_who_consented(world: dict[str, int]) -> None:
    state = _page(world["campaign"])
    assert not state.not_found and state.shown_campaign_id == world["campaign"]
    assert state.problems == [] and state.everyone
    assert [s["name"] for s in state.segments] == ["Subscribed"]
    assert [t["name"] for t in state.tags] == ["vip"]
    assert state.total == 2 and state.counts[0]["channel"] == "Email"
    assert state.counts[0]["count"] == "2" and state.can_send


def test_a_missing_campaign_is_not_found(world: dict[str, int]) -> None:
    state = _page("424242")
    assert state.not_found and not state.can_send


def test_choosing_a_tag_narrows_the_count_and_is_stored(world: dict[str, int]) -> None:
    state = _page(world["campaign"])
    state.set_everyone(False)
    assert state.total == 0 and not state.can_send
    state.toggle_tag(str(world["vip"]), "include")
    assert state.total == 1 and state.action_error == ""
    stored = Audience.from_json(_stored(world["campaign"]).audience_json)
    assert stored.tag_ids == [world["vip"]] and not stored.everyone
    reopened = _page(world["campaign"])
    assert reopened.tags[0]["include"] == "1" and reopened.total == 1


def test_including_then_excluding_a_segment_is_one_or_the_other(world: dict[str, int]) -> None:
    state = _page(world["campaign"])
    segment = str(world["segment"])
    state.toggle_segment(segment, "include")
    state.toggle_segment(segment, "exclude")
    assert state.segments[0]["include"] == "" and state.segments[0]["exclude"] == "1"
    assert state.total == 0  # everyone subscribed, minus the subscribed


def test_a_campaign_with_problems_lists_them_and_cannot_be_sent(world: dict[str, int]) -> None:
    with session_scope() as session:
        campaigns.update_campaign(session, world["campaign"], {"subject": ""})
    state = _page(world["campaign"])
    assert state.problems == ["The email needs a subject."] and not state.can_send
    assert state.send_now() is None
    assert state.action_error == "Fix the problems listed above first."
    assert _stored(world["campaign"]).status == "draft"


@pytest.mark.parametrize(
    ("day", "time", "message"),
    [
        ("", "09:00", "Choose a date and a time to schedule."),
        ("2026-02-30", "09:00", "Choose a date and a time to schedule."),
        ("2020-01-01", "09:00", "That time has already passed; choose a later one."),
    ],
)
def test_a_bad_schedule_says_what_to_fix_and_leaves_a_draft(
    world: dict[str, int], day: str, time: str, message: str
) -> None:
    state = _page(world["campaign"])
    state.set_schedule_date(day)
    state.set_schedule_time(time)
    assert state.schedule() is None and state.action_error == message
    stored = _stored(world["campaign"])
    assert stored.status == "draft" and stored.scheduled_at is None


def test_scheduling_stores_the_time_in_utc(world: dict[str, int]) -> None:
    state = _page(world["campaign"])
    assert state.timezone == "UTC"
    when = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    state.set_schedule_date(when.strftime("%Y-%m-%d"))
    state.set_schedule_time(when.strftime("%H:%M"))
    assert "/campaigns" in str(state.schedule()) and state.action_error == ""
    stored = _stored(world["campaign"])
    assert stored.status == "scheduled"
    assert stored.scheduled_at is not None
    assert stored.scheduled_at.replace(tzinfo=UTC) == when


def test_the_counts_say_how_many_the_frequency_cap_will_hold_back(world: dict[str, int]) -> None:
    from marketing_ui.core.app_settings import update_frequency_cap
    from marketing_ui.core.models import Customer, Delivery

    with session_scope() as session:
        update_frequency_cap(session, {"email_max": "1"})
        earlier = campaigns.create_campaign(session, "Earlier", "monday_special", "email")
        ada = session.query(Customer).filter(Customer.first_name == "Ada").one()
        session.add(
            Delivery(campaign_id=earlier.id, customer_id=ada.id, channel="email", status="sent")
        )
        session.commit()

    state = _page(world["campaign"])

    assert state.total == 1 and state.counts[0]["count"] == "1"
    assert state.counts[0]["held_back"] == "1 held back by the frequency cap (Settings)"
