"""The one rule for CSV cells a spreadsheet could run as a formula (CSV injection).

Every CSV we hand out (analytics, coupons, customer export, import error reports) carries
text that came from outside: names, URLs, rejected import rows. Excel, LibreOffice and
Google Sheets treat a cell starting with = + - @ (and, after trimming, tab or CR) as a
formula, so such a cell gets a leading apostrophe: shown as text, never run. Importing
such a file back takes the apostrophe off again (`restore`), so export → import is lossless.
"""

from __future__ import annotations

from collections.abc import Iterable

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """Text that would start a formula gets a leading apostrophe; anything else is unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def restore(value: str) -> str:
    """Undo `neutralise` when our own export comes back as an import (the apostrophe is ours)."""
    if value.startswith("'") and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


def safe_row(row: Iterable[object]) -> list[object]:
    """A whole CSV row through `neutralise` (numbers and dates pass as they are)."""
    return [neutralise(value) for value in row]
