"""Streaming reader for the CSV files people actually export (Excel, Google, old CRMs).

Encoding: a byte-order mark decides (UTF-8, UTF-16, UTF-32); UTF-16 without one is told by
its zero bytes; anything else is read line by line as UTF-8, falling back to cp1252 (then
Latin-1) only for lines that are not valid UTF-8, so one file mixing both still reads
correctly. Line ends may be LF, CRLF or a lone CR (old Mac exports).

What is not a CSV text file (an image, a workbook, random bytes), a line longer than
MAX_LINE_CHARS, a cell over MAX_CELL_CHARS or a header of more than MAX_COLUMNS columns raises
CsvFileError, whose message tells the owner what is wrong and never quotes the file's cells.
Memory stays bounded by the longest line, whatever the file size.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import BinaryIO

SNIFF_BYTES = 64 * 1024
READ_BLOCK = 64 * 1024
DELIMITERS = (",", ";", "\t")
MAX_LINE_CHARS = 1024 * 1024  # one physical line; a customer record is well under 1 kB
MAX_CELL_CHARS = 1024 * 1024  # a 1 MB cell is a broken file (an unclosed quote), not a customer
MAX_COLUMNS = 500
MAX_HEADER_CHARS = 100  # longer column names are cut, so the mapping screen stays small
MAX_CONTROL_SHARE = 0.01  # more control characters than this in the first 64 kB: not text

# The fields an import can fill, in the order the mapping screen lists them.
FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "birthday",
    "email_consent",
    "sms_consent",
    "tags",
)

csv.field_size_limit(MAX_CELL_CHARS)

_NOT_CSV = "This is not a CSV text file"
_SAVE_AS_CSV = (
    " Open it in Excel or Google Sheets and save or download it as CSV, then upload that file."
)
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "an Excel workbook (.xlsx) or another ZIP archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel workbook (.xls) or Word document"),
    (b"\x1f\x8b", "a compressed (gzip) file"),
)
# UTF-32 first: its little-endian mark starts with UTF-16's.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_PER_LINE = "utf-8"  # decoded line by line with the cp1252 / Latin-1 fallback
_TEXT_CONTROLS = frozenset("\t\n\r\f\v")


class CsvFileError(ValueError):
    """The file cannot be read as a CSV: the message says why, fit for the owner (no cell data)."""


@dataclass(frozen=True)
class _Layout:
    """How to read one file: found once from its first 64 kB."""

    encoding: str  # _PER_LINE, or a codec the whole file is decoded with
    skip: int  # bytes of byte-order mark before the text
    newline: bytes  # physical line end for _PER_LINE files: b"\n" (LF and CRLF) or b"\r"
    delimiter: str


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


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 text of mostly Latin letters has a zero in every other byte."""
    n = len(head) // 2 * 2
    if n < 4:
        return None
    even, odd = head[0:n:2], head[1:n:2]
    zero_even, zero_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    if zero_odd > 0.3 and zero_even < 0.05:
        return "utf-16-le"
    if zero_even > 0.3 and zero_odd < 0.05:
        return "utf-16-be"
    return None


def _check_text(sample: str) -> None:
    """Refuse binary data: NUL characters, or more control characters than text ever has."""
    if "\0" in sample:
        raise CsvFileError(f"{_NOT_CSV} (it contains binary data).{_SAVE_AS_CSV}")
    controls = sum(
        1 for ch in sample if ch not in _TEXT_CONTROLS and unicodedata.category(ch) == "Cc"
    )
    if sample and controls / len(sample) > MAX_CONTROL_SHARE:
        raise CsvFileError(f"{_NOT_CSV} (it contains binary data).{_SAVE_AS_CSV}")


def _layout(path: Path | str) -> _Layout:
    """Encoding, line end and delimiter, from the first 64 kB; CsvFileError if it is not text."""
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            raise CsvFileError(f"{_NOT_CSV}: it looks like {what}.{_SAVE_AS_CSV}")
    encoding, skip = _PER_LINE, 0
    for bom, name in _BOMS:
        if head.startswith(bom):
            encoding, skip = (_PER_LINE if name == "utf-8" else name), len(bom)
            break
    else:
        encoding = _utf16_without_bom(head) or _PER_LINE
    body = head[skip:]
    if encoding == _PER_LINE:
        sample = "".join(decode_line(line) for line in body.splitlines(keepends=True))
        newline = b"\r" if b"\r" in body and b"\n" not in body else b"\n"
    else:
        try:
            sample = codecs.getincrementaldecoder(encoding)("strict").decode(body, final=False)
        except UnicodeDecodeError:
            raise CsvFileError(
                f"The file starts like {encoding.upper()[:6]} text but is not valid "
                f"{encoding.upper()[:6]}: save it again as CSV UTF-8."
            ) from None
        newline = b"\n"
    _check_text(sample)
    return _Layout(encoding, skip, newline, sniff_delimiter(sample))


def _split_lines(fh: BinaryIO, newline: bytes) -> Iterator[bytes]:
    """Physical lines with their end; CsvFileError once a line passes MAX_LINE_CHARS bytes."""
    pending = b""
    number = 1
    while block := fh.read(READ_BLOCK):
        pending += block
        start = 0
        while (end := pending.find(newline, start)) != -1:
            yield pending[start : end + 1]
            start = end + 1
            number += 1
        pending = pending[start:]
        if len(pending) > MAX_LINE_CHARS:
            raise _line_too_long(number)
    if pending:
        yield pending


def _line_too_long(number: int) -> CsvFileError:
    return CsvFileError(
        f"Line {number} is longer than {MAX_LINE_CHARS // (1024 * 1024)} MB: "
        "a customer list has short lines. Is this really a CSV file?"
    )


def _binary_line(number: int) -> CsvFileError:
    """NUL is never in text; the csv module would pass it on (and PostgreSQL refuse it)."""
    return CsvFileError(f"{_NOT_CSV}: line {number} contains binary data.{_SAVE_AS_CSV}")


def _decoded_lines(path: Path | str, layout: _Layout) -> Iterator[str]:
    with open(path, "rb") as fh:
        fh.seek(layout.skip)
        if layout.encoding == _PER_LINE:
            for number, raw in enumerate(_split_lines(fh, layout.newline), start=1):
                if b"\0" in raw:
                    raise _binary_line(number)
                yield decode_line(raw)
            return
        text = io.TextIOWrapper(fh, encoding=layout.encoding, errors="strict", newline="")
        number = 1
        try:
            while line := text.readline(MAX_LINE_CHARS + 1):
                if len(line) > MAX_LINE_CHARS:
                    raise _line_too_long(number)
                if "\0" in line:
                    raise _binary_line(number)
                yield line
                number += 1
        except UnicodeDecodeError:
            label = layout.encoding.upper()[:6]
            raise CsvFileError(
                f"Line {number} is not valid {label} text: save the file again as CSV UTF-8."
            ) from None


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


def _clean_headers(raw: list[str]) -> list[str]:
    """Trimmed and cut short, with blanks and repeats renamed so every column stays addressable."""
    if len(raw) > MAX_COLUMNS:
        raise CsvFileError(
            f"The first line has {len(raw)} columns; at most {MAX_COLUMNS} are supported. "
            "Is this really a customer list?"
        )
    headers: list[str] = []
    seen: set[str] = set()
    for i, name in enumerate(raw, start=1):
        name = name.strip()[:MAX_HEADER_CHARS].strip() or f"column {i}"
        unique, n = name, 2
        while unique in seen:
            unique, n = f"{name} ({n})", n + 1
        seen.add(unique)
        headers.append(unique)
    return headers


def _explain(exc: csv.Error, line: int) -> CsvFileError:
    """A csv module error in the owner's words (its messages never quote the data)."""
    text = str(exc)
    if "field larger than field limit" in text:
        return CsvFileError(
            f"The record starting on line {line} has a cell longer than "
            f'{MAX_CELL_CHARS // (1024 * 1024)} MB: is a quote (") left open there?'
        )
    return CsvFileError(f"Line {line} cannot be read as CSV ({text}).")


def _records(path: Path | str) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, fields) for every non-blank record, header included."""
    layout = _layout(path)
    reader = csv.reader(_decoded_lines(path, layout), delimiter=layout.delimiter)
    previous_end = 0
    while True:
        start = previous_end + 1
        try:
            fields = next(reader, None)
        except csv.Error as exc:
            raise _explain(exc, start) from None
        if fields is None:
            return
        previous_end = reader.line_num
        if not fields or all(not f.strip() for f in fields):
            continue
        yield start, fields


_TITLE_LOOKAHEAD = 10


def _filled(fields: list[str]) -> int:
    return sum(1 for f in fields if f.strip())


def _split_header(
    records: Iterator[tuple[int, list[str]]],
) -> tuple[tuple[int, list[str]] | None, Iterator[tuple[int, list[str]]]]:
    """(header record, the records after it). The header is the first non-blank record, except
    that title lines above a table ("Customer list, exported 1 May", one cell each) are passed
    over when a record of two or more cells follows within the first ten."""
    ahead = list(islice(records, _TITLE_LOOKAHEAD))
    if not ahead:
        return None, records
    first = " ".join(ahead[0][1]).strip()
    at = 0
    if _filled(ahead[0][1]) <= 1 and _field_for(first) is None:  # "Email" alone is a header
        wide = next((i for i, (_, fields) in enumerate(ahead) if _filled(fields) >= 2), None)
        if wide is not None and not any("@" in cell for cell in ahead[wide][1]):
            at = wide  # a row of data ("a@b.co,extra") is no header: keep the first line
    return ahead[at], chain(ahead[at + 1 :], records)


def read_headers(path: Path | str) -> list[str]:
    """The column names of the header line (what the mapping screen shows)."""
    header, _ = _split_header(_records(path))
    return _clean_headers(header[1]) if header else []


def iter_records(path: Path | str) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number of the record's start, {header: value}) for each data record.

    Missing trailing cells read as "", cells beyond the header are ignored, values are trimmed.
    """
    header_row, records = _split_header(_records(path))
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


@dataclass(frozen=True)
class CsvSummary:
    """What the mapping screen needs, from one full pass that proves the whole file reads."""

    headers: list[str]
    rows: int
    first_rows: list[dict[str, str]]


def inspect_file(path: Path | str, keep_rows: int = 3) -> CsvSummary:
    """Headers, record count and the first records; CsvFileError naming what is wrong."""
    if Path(path).stat().st_size == 0:
        raise CsvFileError("The file is empty.")
    headers = read_headers(path)
    if not headers:
        raise CsvFileError("The file holds only blank lines: there is no header line.")
    records = iter_records(path)
    first = [values for _, values in islice(records, keep_rows)]
    rows = len(first) + sum(1 for _ in records)
    if rows == 0:
        raise CsvFileError(
            "The file has a header line but no customer rows below it: nothing to import."
        )
    return CsvSummary(headers, rows, first)


# Column mapping -----------------------------------------------------------------------------

_CONSENT_WORDS = (
    "consent",
    "opt in",
    "optin",
    "opted in",
    "subscribe",
    "subscribed",
    "subscription",
    "permission",
    "marketing",
    "newsletter",
    "einwilligung",
    "consentement",
    "consentimiento",
)
_SMS_WORDS = frozenset({"sms", "text", "mobile", "phone", "cell"})
# A column about something rather than the thing: Google's "E-mail 1 - Type", Mailchimp's
# EMAIL_TYPE, "Phone status", "Email verified", Square's "First Visit" and "Last Visit".
_ABOUT_WORDS = frozenset(
    {"type", "kind", "label", "status", "verified", "valid", "date", "visit", "visits",
     "created", "updated", "source", "count", "rating"}
)  # fmt: skip
_WHEN_WORDS = frozenset({"time", "date", "timestamp", "ip", "at", "by", "source", "version"})
_BIRTHDAY_WORDS = frozenset(
    {"birthday", "birthdate", "dob", "bday", "geburtstag", "geburtsdatum", "anniversaire",
     "cumpleanos", "nacimiento", "compleanno"}
)  # fmt: skip
_EMAIL_WORDS = ("mail", "courriel", "correo")
_PHONE_WORDS = frozenset(
    {"phone", "mobile", "cell", "tel", "telephone", "cellphone", "gsm", "msisdn", "portable",
     "handy", "mobil", "movil", "celular", "cellulare", "natel", "telefon", "telefono"}
)  # fmt: skip
_FIRST_WORDS = frozenset(
    {"first", "given", "forename", "firstname", "givenname", "vorname", "prenom", "fname",
     "nombre", "voornaam", "nome"}
)  # fmt: skip
_LAST_WORDS = frozenset(
    {"last", "surname", "family", "lastname", "familyname", "nachname", "nom", "lname",
     "apellido", "apellidos", "cognome", "achternaam", "sobrenome"}
)  # fmt: skip
_WHOLE_NAME = ("name", "full name", "contact name", "customer name", "contact", "customer")


def _normalize_header(header: str) -> str:
    """Lower-case ASCII words: accents folded (Prénom -> prenom), camelCase split."""
    folded = "".join(
        c for c in unicodedata.normalize("NFKD", header) if not unicodedata.combining(c)
    )
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", folded)
    return " ".join(re.sub(r"[^a-z0-9]+", " ", spaced.lower()).split())


def _field_for(header: str) -> tuple[str, bool] | None:
    """(field, sure) for a column whose name says what it holds; `sure` is False for a whole
    name ("Name"), taken for the first name only when no column says first name."""
    h = _normalize_header(header)
    words = set(h.split())
    if not h:
        return None
    if any(w in h for w in _CONSENT_WORDS) and "unsubscribe" not in h:
        if words & _WHEN_WORDS:  # Mailchimp's OPTIN_TIME, OPTIN_IP: about the consent
            return None
        return ("sms_consent" if words & _SMS_WORDS else "email_consent"), True
    if words & _BIRTHDAY_WORDS or h in ("date of birth", "birth date"):
        return "birthday", True
    if words & _ABOUT_WORDS:
        return None
    if any(w in h for w in _EMAIL_WORDS):
        return "email", True
    if words & _PHONE_WORDS or h in ("mobile number", "phone number"):
        return "phone", True
    if words & {"tags", "tag", "labels", "groups", "group", "segments"}:
        return "tags", True
    if words & _FIRST_WORDS:
        return "first_name", True
    if words & _LAST_WORDS:
        return "last_name", True
    if h in _WHOLE_NAME:
        return "first_name", False
    return None


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """{field: column} for the columns whose names say what they hold; each column used once,
    the first sure column of a field before any guess ("Given Name" before "Name")."""
    found = [(header, _field_for(header)) for header in headers]
    mapping: dict[str, str] = {}
    for want_sure in (True, False):
        for header, hit in found:
            if hit and hit[1] == want_sure and hit[0] not in mapping:
                mapping[hit[0]] = header
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
