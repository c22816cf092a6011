"""The editor's A/B section: load, add variants as copies of A, edit, save, refusals by field that
keep what is stored, and a campaign already sending is read-only."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from marketing_ui.core import ab_tests, campaigns
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Campaign
from marketing_ui.state.campaign_ab import CampaignAbState
from tests.state.conftest import page_state


@pytest.fixture
def campaign_id(app_db: None) -> int:
    with session_scope() as session:
        made = campaigns.create_campaign(session, "Monday", "monday_special", "email")
        return int(made.id)


def _section(campaign_id: int) -> CampaignAbState:
    path = f"/campaigns/{campaign_id}/edit"
    state = page_state(CampaignAbState, path, {"campaign_id": str(campaign_id)})
    state.load()
    return state


def _stored(campaign_id: int) -> tuple[Campaign, list[str]]:
    with session_scope() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        labels = [v.label for v in ab_tests.variants(session, campaign_id)]
        session.expunge(campaign)
        return campaign, labels


def test_variants_start_as_copies_of_a_and_save_with_the_settings(campaign_id: int) -> None:
    state = _section(campaign_id)
    assert (state.percent, state.variants, state.can_add, state.test_on) == ("0", [], True, False)
    campaign, _ = _stored(campaign_id)

    state.add_variant()
    state.add_variant()
    state.add_variant()
    assert [v["label"] for v in state.variants] == ["B", "C", "D"]
    assert state.variants[0]["subject"] == campaign.subject  # a copy of A
    assert not state.can_add  # at most 4 variants
    state.remove_variant("C")
    assert [v["label"] for v in state.variants] == ["B", "C"]  # relabelled in order
    state.set_variant_field("B", "subject", "Two pastas for one")
    state.set_variant_field("C", "subject", "Tonight only")
    state.set_percent("20")
    state.set_window("6")
    state.save()

    assert state.error == "" and "20% of the audience, 3 variants" in state.message
    stored, labels = _stored(campaign_id)
    assert (stored.ab_test_percent, stored.ab_window_hours, labels) == (20, 6, ["A", "B", "C"])
    again = _section(campaign_id)
    assert [v["subject"] for v in again.variants] == ["Two pastas for one", "Tonight only"]


@pytest.mark.parametrize(
    ("percent", "window", "edit_b", "field", "words"),
    [
        ("60", "6", True, "ab_percent", "between 0 and 50"),
        ("ten", "6", True, "ab_percent", "whole number"),
        ("20", "0", True, "ab_window", "at least 1 hour"),
        ("20", "6", False, "variant_B", "Variant B is the same as A"),
    ],
)
def test_bad_input_is_refused_by_field_and_the_stored_test_stays(
    campaign_id: int, percent: str, window: str, edit_b: bool, field: str, words: str
) -> None:
    state = _section(campaign_id)
    state.add_variant()
    state.set_variant_field("B", "subject", "Stored B")
    state.set_percent("10")
    state.save()
    assert state.error == ""

    state.add_variant()  # C, a copy of A
    if edit_b:
        state.set_variant_field("C", "subject", "Another")
    else:
        state.remove_variant("B")  # C becomes B: still a copy of A
    state.set_percent(percent)
    state.set_window(window)
    state.save()

    assert state.error_field == field and words in state.error
    stored, labels = _stored(campaign_id)
    assert (stored.ab_test_percent, labels) == (10, ["A", "B"])


def test_a_campaign_that_is_sending_cannot_change_its_test(campaign_id: int) -> None:
    with session_scope() as session:
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(status="sending"))
    state = _section(campaign_id)
    assert not state.editable and not state.can_add
    state.save()
    assert "can no longer change" in state.error
