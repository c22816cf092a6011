"""Streaming reader for the CSV files people actually export (Excel, Google, old CRMs).

Reads line by line, decoding each line as UTF-8 and falling back to cp1252 (then Latin-1)
only for lines that are not valid UTF-8, so one file mixing both still reads correctly.
Memory stays bounded by the longest record, whatever the file size.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

SNIFF_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t")
_BOM = b"\xef\xbb\xbf"

# The fields an import can fill, in the order the mapping screen lists them.
FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "email_consent",
    "sms_consent",
    "tags",
)

csv.field_size_limit(1024 * 1024)  # a 1 MB cell is a broken file, not a customer


def decode_line(raw: bytes) -> str:
    """UTF-8 when it is, else Windows-1252 (what Excel writes), else Latin-1 (never fails)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _decoded_lines(path: Path | str) -> Iterator[str]:
    with open(path, "rb") as fh:
        first = True
        for raw in fh:
            if first:
                raw = raw.removeprefix(_BOM)
                first = False
            yield decode_line(raw)


def sniff_delimiter(sample: str) -> str:
    """The candidate giving the most columns with a consistent count over the sample's rows."""
    lines = sample.splitlines(keepends=True)
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the chunk may end mid-record
    best, best_score = ",", (-1, -1)
    for delimiter in DELIMITERS:
        try:
            rows = [r for r in csv.reader(lines, delimiter=delimiter) if r][:50]
        except csv.Error:
            continue
        if not rows:
            continue
        width = len(rows[0])
        consistent = sum(1 for r in rows if len(r) == width)
        score = (consistent if width > 1 else 0, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _sniff_file(path: Path | str) -> str:
    with open(path, "rb") as fh:
        chunk = fh.read(SNIFF_BYTES).removeprefix(_BOM)
    text = "".join(decode_line(line) for line in chunk.splitlines(keepends=True))
    return sniff_delimiter(text)


def _clean_headers(raw: list[str]) -> list[str]:
    """Trimmed, with blanks and repeats renamed so every column stays addressable."""
    headers: list[str] = []
    seen: set[str] = set()
    for i, name in enumerate(raw, start=1):
        name = name.strip() or f"column {i}"
        unique, n = name, 2
        while unique in seen:
            unique, n = f"{name} ({n})", n + 1
        seen.add(unique)
        headers.append(unique)
    return headers


def _records(path: Path | str) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, fields) for every non-blank record, header included."""
    reader = csv.reader(_decoded_lines(path), delimiter=_sniff_file(path))
    previous_end = 0
    for fields in reader:
        start = previous_end + 1
        previous_end = reader.line_num
        if not fields or all(not f.strip() for f in fields):
            continue
        yield start, fields


def read_headers(path: Path | str) -> list[str]:
    """The column names of the first non-blank line (what the mapping screen shows)."""
    for _, fields in _records(path):
        return _clean_headers(fields)
    return []


def iter_records(path: Path | str) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number of the record's start, {header: value}) for each data record.

    Missing trailing cells read as "", cells beyond the header are ignored, values are trimmed.
    """
    records = _records(path)
    header_row = next(records, None)
    if header_row is None:
        return
    headers = _clean_headers(header_row[1])
    width = len(headers)
    for line, fields in records:
        values = [f.strip() for f in fields[:width]]
        values.extend([""] * (width - len(values)))
        yield line, dict(zip(headers, values, strict=True))


def count_records(path: Path | str) -> int:
    """Data records in the file (one streaming pass), for an honest progress bar."""
    return sum(1 for _ in iter_records(path))


# Column mapping -----------------------------------------------------------------------------

_CONSENT_WORDS = (
    "consent",
    "opt in",
    "optin",
    "opted in",
    "subscribe",
    "subscribed",
    "permission",
    "marketing",
    "newsletter",
)
_SMS_WORDS = frozenset({"sms", "text", "mobile", "phone", "cell"})


def _normalize_header(header: str) -> str:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", header)
    return " ".join(re.sub(r"[^a-z0-9]+", " ", spaced.lower()).split())


def _field_for(header: str) -> str | None:
    h = _normalize_header(header)
    words = set(h.split())
    if not h:
        return None
    if any(w in h for w in _CONSENT_WORDS) and "unsubscribe" not in h:
        return "sms_consent" if words & _SMS_WORDS else "email_consent"
    if "mail" in h:
        return "email"
    if words & {
        "phone",
        "mobile",
        "cell",
        "tel",
        "telephone",
        "cellphone",
        "gsm",
        "msisdn",
    } or h in (
        "mobile number",
        "phone number",
        "telefon",
        "telefono",
    ):
        return "phone"
    if words & {"tags", "tag", "labels", "label", "groups", "group", "segments"}:
        return "tags"
    if words & {
        "first",
        "given",
        "forename",
        "firstname",
        "givenname",
        "vorname",
        "prenom",
        "fname",
    }:
        return "first_name"
    if words & {"last", "surname", "family", "lastname", "familyname", "nachname", "nom", "lname"}:
        return "last_name"
    if h in ("name", "full name", "contact name", "customer name", "contact", "customer"):
        return "first_name"
    return None


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """{field: column} for the columns whose names say what they hold; each column used once."""
    mapping: dict[str, str] = {}
    for header in headers:
        found = _field_for(header)
        if found and found not in mapping:
            mapping[found] = header
    return mapping


_TRUE_WORDS = frozenset(
    {
        "1",
        "true",
        "t",
        "yes",
        "y",
        "x",
        "on",
        "subscribed",
        "opt in",
        "opt-in",
        "opted in",
        "optin",
        "granted",
        "agreed",
        "consent",
        "ja",
        "oui",
        "si",
        "sí",
        "✓",
        "✔",
    }
)


def parse_consent(value: str) -> bool | None:
    """True for an explicit yes, False for anything else written, None for an empty cell."""
    value = value.strip().lower()
    if not value:
        return None
    return value in _TRUE_WORDS
