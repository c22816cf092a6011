"""Segments page handlers: the list with live counts, the builder's checks, save, reopen, delete."""

from __future__ import annotations

from marketing_ui.state.segments import SegmentsState
from tests.state.conftest import page_state


def _page() -> SegmentsState:
    state = page_state(SegmentsState, "/segments")
    state.load()
    return state


def test_load_lists_segments_with_live_counts_and_the_pickers(world: dict[str, int]) -> None:
    state = _page()
    [row] = state.segment_list
    assert (row.name, row.customers, row.rules) == ("Subscribed", 2, 1)
    assert row.updated.endswith(" UTC")
    assert [(t.name, t.customers) for t in state.all_tags] == [("vip", 1)]
    assert state.campaigns == [{"id": str(world["campaign"]), "name": "Monday"}]


def test_an_unfinished_rule_is_marked_and_nothing_is_saved(world: dict[str, int]) -> None:
    state = _page()
    state.new_segment()
    assert state.editing and state.items == []
    assert state.add_rule() == SegmentsState.recount  # every change asks for a fresh count
    state.set_name("Tagged")
    state.save()
    assert state.save_error == "Finish or remove the rules marked in red before saving."
    assert state.items[0].problem == "pick at least one tag" and state.problems == 1
    assert state.editing
    assert [s.name for s in _page().segment_list] == ["Subscribed"]


def test_a_taken_name_is_refused_with_the_name(world: dict[str, int]) -> None:
    state = _page()
    state.new_segment()
    state.add_rule()
    key = state.items[0].key
    state.toggle_tag(key, str(world["vip"]))
    state.set_name("subscribed")
    state.save()
    assert "subscribed" in state.save_error and "already exists" in state.save_error
    assert state.editing and len(_page().segment_list) == 1


def test_a_new_segment_is_saved_and_listed_with_its_count(world: dict[str, int]) -> None:
    state = _page()
    state.new_segment()
    state.add_rule()
    state.toggle_tag(state.items[0].key, str(world["vip"]))
    state.set_name("  VIP   customers ")
    state.save()
    assert state.save_error == "" and not state.editing
    assert state.list_message == "Segment “VIP customers” saved."
    counts = {s.name: s.customers for s in state.segment_list}
    assert counts == {"Subscribed": 2, "VIP customers": 1}


def test_a_saved_segment_reopens_in_the_builder(world: dict[str, int]) -> None:
    state = _page()
    state.edit_segment(str(world["segment"]))
    assert state.editing and state.name == "Subscribed" and state.edit_id == str(world["segment"])
    [item] = state.items
    assert (item.type, item.channel, item.consent) == ("consent", "email", "yes")
    state.edit_segment("999999")
    assert state.list_message == "Segment #999999 does not exist."


def test_delete_asks_then_removes(world: dict[str, int]) -> None:
    state = _page()
    state.ask_delete(str(world["segment"]))
    assert state.delete_name == "Subscribed"
    state.confirm_delete()
    assert state.list_message == "Segment “Subscribed” deleted." and state.segment_list == []
