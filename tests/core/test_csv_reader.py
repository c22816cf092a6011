"""The CSV reader on the kinds of files people really export."""

from __future__ import annotations

import re
import tracemalloc
from pathlib import Path

import pytest

from marketing_ui.core.csv_reader import (
    MAX_COLUMNS,
    CsvFileError,
    count_records,
    guess_mapping,
    inspect_file,
    iter_records,
    parse_consent,
    read_headers,
    sniff_delimiter,
)


def _write(tmp_path: Path, data: bytes, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_utf8_bom_and_crlf(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "\ufeffEmail,First name\r\nzoë@example.com,Zoë\r\nb@example.com,Bo\r\n".encode()
    )
    assert read_headers(path) == ["Email", "First name"]
    assert list(iter_records(path)) == [
        (2, {"Email": "zoë@example.com", "First name": "Zoë"}),
        (3, {"Email": "b@example.com", "First name": "Bo"}),
    ]


@pytest.mark.parametrize("delimiter", [";", "\t", ","])
def test_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    # Commas inside the values must not fool the sniffer for semicolon/tab files.
    name = '"Doe, Jane"' if delimiter != "," else '"Doe, Jane"'
    text = delimiter.join(["name", "email", "tags"]) + "\n"
    text += delimiter.join([name, "jane@example.com", '"vip, new"']) + "\n"
    text += delimiter.join(["Bob", "bob@example.com", "x"]) + "\n"
    path = _write(tmp_path, text.encode())
    rows = list(iter_records(path))
    assert rows[0] == (2, {"name": "Doe, Jane", "email": "jane@example.com", "tags": "vip, new"})
    assert rows[1][1]["email"] == "bob@example.com"


def test_sniffer_defaults_to_comma_for_one_column() -> None:
    assert sniff_delimiter("email\na@example.com\n") == ","


def test_embedded_newlines_blank_lines_and_line_numbers(tmp_path: Path) -> None:
    text = (
        "first,notes,email\r\n"
        "\r\n"
        'Ann,"line one\r\nline two\r\nline three",ann@example.com\r\n'
        "\r\n"
        ",,\r\n"
        "Bob,plain,bob@example.com\r\n"
    )
    path = _write(tmp_path, text.encode())
    rows = list(iter_records(path))
    assert [line for line, _ in rows] == [3, 8]
    assert rows[0][1]["notes"] == "line one\r\nline two\r\nline three"
    assert rows[1][1] == {"first": "Bob", "notes": "plain", "email": "bob@example.com"}
    assert count_records(path) == 2


def test_mixed_utf8_and_latin1_lines(tmp_path: Path) -> None:
    data = (
        b"name;city\n"
        + "José;Málaga\n".encode()
        + "Zoë;Besançon\n".encode("latin-1")
        + "Renée;€uro\n".encode("cp1252")
    )
    path = _write(tmp_path, data)
    assert [r["name"] + "|" + r["city"] for _, r in iter_records(path)] == [
        "José|Málaga",
        "Zoë|Besançon",
        "Renée|€uro",
    ]


def test_extra_and_missing_columns_and_odd_headers(tmp_path: Path) -> None:
    text = "email,,email\na@example.com,x,dup,extra1,extra2\nb@example.com\n"
    path = _write(tmp_path, text.encode())
    assert read_headers(path) == ["email", "column 2", "email (2)"]
    rows = [r for _, r in iter_records(path)]
    assert rows[0] == {"email": "a@example.com", "column 2": "x", "email (2)": "dup"}
    assert rows[1] == {"email": "b@example.com", "column 2": "", "email (2)": ""}


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    assert list(iter_records(_write(tmp_path, b"", "empty.csv"))) == []
    assert read_headers(_write(tmp_path, b"\n\n", "blank.csv")) == []
    assert list(iter_records(_write(tmp_path, b"email\r\n", "header.csv"))) == []


TEXT = "email,first name\nzoë@example.com,Zoë\nb@example.com,Bø\n"
ROWS = [
    {"email": "zoë@example.com", "first name": "Zoë"},
    {"email": "b@example.com", "first name": "Bø"},
]


@pytest.mark.parametrize(
    "data",
    [
        TEXT.encode("utf-16"),  # Excel's "Unicode text": UTF-16 with a byte-order mark
        TEXT.encode("utf-16-le"),  # no mark: told by its zero bytes
        TEXT.encode("utf-16-be"),
        TEXT.encode("utf-32"),
        b"\xef\xbb\xbf" + TEXT.encode(),
        TEXT.encode("latin-1"),
        TEXT.encode("cp1252"),
        TEXT.replace("\n", "\r").encode(),  # old Mac line ends
        TEXT.replace("\n", "\r\n").encode("utf-16"),
    ],
    ids=[
        "utf16-bom",
        "utf16le",
        "utf16be",
        "utf32",
        "utf8-bom",
        "latin1",
        "cp1252",
        "cr",
        "utf16-crlf",
    ],
)
def test_encodings_and_line_ends_read_the_same(tmp_path: Path, data: bytes) -> None:
    summary = inspect_file(_write(tmp_path, data))
    assert (summary.headers, summary.rows, summary.first_rows) == (
        ["email", "first name"],
        2,
        ROWS,
    )
    assert [line for line, _ in iter_records(tmp_path / "in.csv")] == [2, 3]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "not a CSV text file: it looks like a PNG"),
        (b"PK\x03\x04" + bytes(range(256)), "looks like an Excel workbook (.xlsx)"),
        (
            bytes((i * 7919 + 13) % 256 for i in range(4000)),
            "not a CSV text file (it contains binary",
        ),
        (
            b"email\n" + b"\x01\x02\x03\x04\x05\x06x\n" * 50,
            "not a CSV text file (it contains binary",
        ),
        (b"", "The file is empty."),
        (b"\n\r\n  \n", "only blank lines"),
        (b"email,name\r\n", "header line but no customer rows"),
        (b"email,name\r\n,\r\n", "header line but no customer rows"),
        (b"email," + b"a" * (1024 * 1024 + 10), "Line 1 is longer than 1 MB"),
        (b"email\nx\n" + b"y" * (2 * 1024 * 1024) + b"\n", "Line 3 is longer than 1 MB"),
        (
            b'email,name\na@example.com,"never closed\n' + b"more\n" * 300_000,
            "starting on line 2 has a cell longer than 1 MB",
        ),
        ((",".join(f"c{i}" for i in range(MAX_COLUMNS + 1)) + "\nx\n").encode(), "columns"),
        (b"\xff\xfe" + "email\n".encode("utf-16-le") + b"\x00\xd8\x41\x00", "not valid UTF-16"),
    ],
    ids=[
        "png",
        "xlsx",
        "random-bytes",
        "control-chars",
        "empty",
        "blank",
        "header-only",
        "header-and-blank-row",
        "one-gigantic-line",
        "gigantic-line-later",
        "unclosed-quote",
        "too-many-columns",
        "broken-utf16",
    ],
)
def test_unreadable_files_raise_a_message_for_the_owner(
    tmp_path: Path, data: bytes, message: str
) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(CsvFileError, match=re.escape(message)):
        inspect_file(path)


def test_binary_data_after_the_sniffed_start_is_an_error_not_a_crash(tmp_path: Path) -> None:
    good = "".join(f"p{i}@example.com,P{i}\n" for i in range(5000))  # > 64 kB
    path = _write(tmp_path, ("email,name\n" + good).encode() + b"x@example.com,\x00\x00\n")
    with pytest.raises(CsvFileError, match="line 5002 contains binary data"):
        count_records(path)


def test_long_column_names_are_cut_and_stay_distinct(tmp_path: Path) -> None:
    long = "x" * 300
    headers = inspect_file(_write(tmp_path, f"{long},{long}\n1,2\n".encode())).headers
    assert headers == ["x" * 100, "x" * 100 + " (2)"]


def test_ten_megabyte_file_streams_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    row = "Firstname{0},Lastname{0},person{0}@example.com,+1202555{1:04d},yes,vip;new\n"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("First name,Last name,Email,Phone,Consent,Tags\n")
        n = 0
        while fh.tell() < 10 * 1024 * 1024:
            fh.write(row.format(n, n % 10000))
            n += 1
    assert path.stat().st_size >= 10 * 1024 * 1024
    tracemalloc.start()
    try:
        count, last = 0, None
        for line, record in iter_records(path):
            count += 1
            last = (line, record["Email"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n
    assert last == (n + 1, f"person{n - 1}@example.com")
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes: the reader holds too much"


def test_guess_mapping_understands_common_headers() -> None:
    assert guess_mapping(
        ["E-mail", "mobile", "given name", "Surname", "email_opt_in", "sms consent", "tags", "City"]
    ) == {
        "email": "E-mail",
        "phone": "mobile",
        "first_name": "given name",
        "last_name": "Surname",
        "email_consent": "email_opt_in",
        "sms_consent": "sms consent",
        "tags": "tags",
    }
    assert guess_mapping(["Email Address", "Phone number", "First name", "Marketing consent"]) == {
        "email": "Email Address",
        "phone": "Phone number",
        "first_name": "First name",
        "email_consent": "Marketing consent",
    }
    assert guess_mapping(["firstName", "lastName", "emailAddress"]) == {
        "first_name": "firstName",
        "last_name": "lastName",
        "email": "emailAddress",
    }


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (  # Excel in French: Prénom is the first name, Nom the last
            ["Prénom", "Nom", "E-mail", "Téléphone portable", "Newsletter"],
            {"first_name": "Prénom", "last_name": "Nom", "email": "E-mail",
             "phone": "Téléphone portable", "email_consent": "Newsletter"},
        ),
        (
            ["Vorname", "Nachname", "E-Mail-Adresse", "Handy", "Einwilligung"],
            {"first_name": "Vorname", "last_name": "Nachname", "email": "E-Mail-Adresse",
             "phone": "Handy", "email_consent": "Einwilligung"},
        ),
        (
            ["Nombre", "Apellidos", "Correo electrónico", "Móvil"],
            {"first_name": "Nombre", "last_name": "Apellidos", "email": "Correo electrónico",
             "phone": "Móvil"},
        ),
        (  # Google Contacts: the value columns, not their type; Given Name before Name
            ["Name", "Given Name", "Family Name", "E-mail 1 - Type", "E-mail 1 - Value",
             "Phone 1 - Type", "Phone 1 - Value", "Labels"],
            {"first_name": "Given Name", "last_name": "Family Name", "email": "E-mail 1 - Value",
             "phone": "Phone 1 - Value", "tags": "Labels"},
        ),
        (  # Square: visits are not names, the subscription status is the consent
            ["Reference ID", "First Visit", "Last Visit", "First Name", "Last Name",
             "Email Subscription Status", "Email Address", "Phone Number", "Creation Source"],
            {"first_name": "First Name", "last_name": "Last Name", "email": "Email Address",
             "phone": "Phone Number", "email_consent": "Email Subscription Status"},
        ),
        (  # Mailchimp: OPTIN_TIME is when, not whether; EMAIL_TYPE is html or text
            ["Email Address", "First Name", "Last Name", "EMAIL_TYPE", "MEMBER_RATING",
             "OPTIN_TIME", "OPTIN_IP", "TAGS"],
            {"email": "Email Address", "first_name": "First Name", "last_name": "Last Name",
             "tags": "TAGS"},
        ),
        (["Name", "Email ID", "Mobile No"],
         {"first_name": "Name", "email": "Email ID", "phone": "Mobile No"}),
        (["Email", "Date of Birth", "Last visit date"], {"email": "Email", "birthday": "Date of Birth"}),
        (["E-Mail", "Geburtstag"], {"email": "E-Mail", "birthday": "Geburtstag"}),
        (["Email", "DOB"], {"email": "Email", "birthday": "DOB"}),
    ],
)  # fmt: skip
def test_guess_mapping_reads_real_exports(headers: list[str], expected: dict[str, str]) -> None:
    assert guess_mapping(headers) == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("yes", True),
        ("TRUE", True),
        ("1", True),
        ("x", True),
        ("no", False),
        ("0", False),
        ("maybe", False),
        ("", None),
        ("  ", None),
    ],
)
def test_parse_consent_only_trusts_explicit_yes(cell: str, expected: bool | None) -> None:
    assert parse_consent(cell) is expected


@pytest.mark.parametrize(
    ("data", "headers", "records"),
    [
        (  # a title and a blank line above the table, as report exports write them
            b"Customer list exported 2024-05-01\n\nFirst name,Email\nAda,ada@example.com\n",
            ["First name", "Email"],
            [(4, {"First name": "Ada", "Email": "ada@example.com"})],
        ),
        (
            b"Demo Bistro\nGuests\nFirst name,Email\nAda,ada@example.com\nBo,\n",
            ["First name", "Email"],
            [(4, {"First name": "Ada", "Email": "ada@example.com"}),
             (5, {"First name": "Bo", "Email": ""})],
        ),
        (  # one column is a header, even when a later row carries a stray second cell
            b"Email\nada@example.com\nbo@example.com,extra\n",
            ["Email"],
            [(2, {"Email": "ada@example.com"}), (3, {"Email": "bo@example.com"})],
        ),
        (  # an unknown one-column name above rows of data is still the header
            b"Guests\nada@example.com\nbo@example.com,extra\n",
            ["Guests"],
            [(2, {"Guests": "ada@example.com"}), (3, {"Guests": "bo@example.com"})],
        ),
    ],
)  # fmt: skip
def test_title_lines_above_the_table_are_passed_over(
    tmp_path: Path, data: bytes, headers: list[str], records: list[tuple[int, dict[str, str]]]
) -> None:
    path = _write(tmp_path, data)
    assert read_headers(path) == headers
    assert list(iter_records(path)) == records
    assert inspect_file(path).rows == len(records)
