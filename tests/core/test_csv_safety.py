"""The one formula-neutralising rule every CSV export shares."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from marketing_ui.core.csv_safety import neutralise, restore, safe_row


@pytest.mark.parametrize(
    "cell",
    ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"],
)
def test_cells_a_spreadsheet_would_run_get_an_apostrophe(cell: str) -> None:
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Ann", "", " =1", "a=b", "'=already"])
def test_plain_text_is_unchanged(cell: str) -> None:
    assert neutralise(cell) == cell


def test_numbers_and_dates_pass_through_a_row() -> None:
    when = datetime(2026, 1, 2, tzinfo=UTC)
    assert safe_row([3, -4, when, None, "=x"]) == [3, -4, when, None, "'=x"]


@pytest.mark.parametrize("cell", ["=1", "+1 202 555 0143", "@x", "Ann", "'quoted", ""])
def test_restore_undoes_neutralise_only(cell: str) -> None:
    assert restore(str(neutralise(cell))) == cell
    assert restore("'" + "plain") == "'plain"  # an apostrophe we did not add stays
