"""Customer export on SQLite and PostgreSQL: scopes, columns, formulas, batches, tickets."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from marketing_ui.core.csv_reader import guess_mapping, read_headers
from marketing_ui.core.customer_export import (
    HEADER,
    ExportScope,
    count_scope,
    csv_chunks,
    export_rows,
    issue_ticket,
    redeem_ticket,
)
from marketing_ui.core.customers import (
    CustomerFilter,
    CustomerInput,
    create_customer,
    customer_detail,
)
from marketing_ui.core.importer import run_import
from marketing_ui.core.segments import choices as segment_choices
from marketing_ui.core.segments import create_segment, delete_segment
from marketing_ui.core.tags import create_tag


@pytest.fixture
def people(engine: Engine) -> dict[str, int]:
    """Three customers, one with a name a spreadsheet would run, two tags."""
    with Session(engine) as session:
        vip, lunch = create_tag(session, "VIP"), create_tag(session, "Lunch")
        ids = {"vip": int(vip.id), "lunch": int(lunch.id)}  # type: ignore[arg-type]
        for key, data in (
            ("ann", CustomerInput("Ann", "Lee", "ann@example.com", "+1 202 555 0143", True, True)),
            ("bob", CustomerInput('=HYPERLINK("x")', "@Bob", "bob@example.com", "", False)),
            ("cy", CustomerInput("Cy", "-Ng", "", "+1 202 555 0144", False, True)),
        ):
            data.tag_ids = {"ann": [ids["vip"], ids["lunch"]], "bob": [ids["lunch"]]}.get(key, [])
            data.birthday_month, data.birthday_day, data.birthday_year = {
                "ann": (5, 17, 1990),
                "cy": (2, 29, None),
            }.get(key, (None, None, None))
            ids[key] = int(create_customer(session, data).id)  # type: ignore[arg-type]
        session.commit()
    return ids


def _csv(rows) -> list[list[str]]:  # noqa: ANN001 - rows from export_rows
    text = b"".join(csv_chunks(rows, rows_per_chunk=2)).decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads the accents right
    return list(csv.reader(io.StringIO(text[1:])))


def test_everyone_with_every_column_and_formulas_neutralised(
    engine: Engine, people: dict[str, int]
) -> None:
    rows = _csv(export_rows(ExportScope(), requested_by=1, engine=engine))
    assert rows[0] == list(HEADER)
    assert [r[:8] for r in rows[1:]] == [
        # A leading + is a formula to Excel too (it would show 12025550143): kept as text.
        ["Ann", "Lee", "ann@example.com", "'+12025550143", "1990-05-17", "yes", "yes",
         "Lunch, VIP"],
        ['\'=HYPERLINK("x")', "'@Bob", "bob@example.com", "", "", "no", "no", "Lunch"],
        ["Cy", "'-Ng", "", "'+12025550144", "Feb 29", "no", "yes", ""],
    ]  # fmt: skip
    assert all(len(r[8]) == 19 for r in rows[1:])  # "YYYY-MM-DD HH:MM:SS", UTC


def test_the_listing_filter_and_a_segment_choose_who(
    engine: Engine, people: dict[str, int]
) -> None:
    def names(scope: ExportScope) -> list[str]:
        return [r[0] for r in _csv(export_rows(scope, requested_by=1, engine=engine))[1:]]

    assert names(ExportScope(filter=CustomerFilter(tag_id=people["lunch"]))) == [
        "Ann",
        '\'=HYPERLINK("x")',
    ]
    assert names(ExportScope(filter=CustomerFilter(sms_consent=True))) == ["Ann", "Cy"]
    assert names(ExportScope(filter=CustomerFilter(search="ann@example.com"))) == ["Ann"]
    with Session(engine) as session:
        vip = create_segment(
            session, "VIPs", {"type": "tags", "mode": "any", "tags": [people["vip"]]}
        )
        session.commit()
        segment_id = int(vip.id)  # type: ignore[arg-type]
        assert segment_choices(session) == [(segment_id, "VIPs")]
    assert names(ExportScope(segment_id=segment_id)) == ["Ann"]
    assert count_scope(ExportScope(segment_id=segment_id), engine=engine) == 1
    assert count_scope(ExportScope(), engine=engine) == 3
    with Session(engine) as session:
        delete_segment(session, segment_id)
        session.commit()
    with pytest.raises(LookupError, match="does not exist"):
        export_rows(ExportScope(segment_id=segment_id), requested_by=1, engine=engine)


def test_rows_are_read_lazily_in_batches(engine: Engine, people: dict[str, int]) -> None:
    """A batch is read when the stream reaches it: nothing is built up front in memory."""
    stream = export_rows(ExportScope(), requested_by=1, batch=2, engine=engine)
    first = [next(stream) for _ in range(3)]  # header + the first batch
    assert [r[0] for r in first[1:]] == ["Ann", '\'=HYPERLINK("x")']
    with Session(engine) as session:  # added while the download is under way
        create_customer(session, CustomerInput("Dee", "Late", "dee@example.com"))
        session.commit()
    assert [r[0] for r in stream] == ["Cy", "Dee"]


def test_an_export_imports_back_unchanged(
    engine: Engine, people: dict[str, int], tmp_path: Path
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(
        b"".join(csv_chunks(export_rows(ExportScope(), requested_by=1, engine=engine)))
    )
    mapping = guess_mapping(read_headers(path))
    assert set(mapping) == {
        "first_name",
        "last_name",
        "email",
        "phone",
        "birthday",
        "email_consent",
        "sms_consent",
        "tags",
    }
    with path.open(encoding="utf-8-sig", newline="") as fh:
        exported = {r["Email"] or r["Phone"]: r["Birthday"] for r in csv.DictReader(fh)}
    assert exported == {
        "ann@example.com": "1990-05-17",
        "bob@example.com": "",
        "'+12025550144": "Feb 29",
    }
    result = run_import(engine, path, mapping, "add_update", [])
    assert (result.unchanged, result.updated, result.created, result.error_count) == (3, 0, 0, 0)
    with Session(engine) as session:
        bob = customer_detail(session, people["bob"])
    assert (bob.first_name, bob.last_name) == ('=HYPERLINK("x")', "@Bob")


def test_a_ticket_is_single_use_and_only_for_the_admin_it_was_issued_to(
    redis_client: object,
) -> None:
    scope = ExportScope(filter=CustomerFilter(search="ann", tag_id=3, email_consent=True))
    ticket = issue_ticket(scope, user_id=7)
    assert redeem_ticket(ticket, user_id=7) == scope
    assert redeem_ticket(ticket, user_id=7) is None  # used up
    other = issue_ticket(ExportScope(segment_id=4), user_id=7)
    assert redeem_ticket(other, user_id=8) is None
    assert redeem_ticket(other, user_id=7) is None  # a wrong user burns it too
    assert redeem_ticket("../../etc/passwd", user_id=7) is None
    assert redeem_ticket(issue_ticket(ExportScope(), 7), 7) == ExportScope()
