"""The CSV reader on the kinds of files people really export."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from marketing_ui.core.csv_reader import (
    count_records,
    guess_mapping,
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
