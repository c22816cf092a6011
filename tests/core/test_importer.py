"""CSV import end to end on SQLite and PostgreSQL: bad rows, modes, consent, tags, the RQ job."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from marketing_ui.core.customers import (
    CustomerFilter,
    CustomerInput,
    create_customer,
    customer_detail,
    list_customers,
)
from marketing_ui.core.import_jobs import run_job
from marketing_ui.core.importer import run_import, write_error_report
from marketing_ui.core.models import ConsentEvent, Customer, ImportJob, InvalidPhone, Tag
from marketing_ui.core.tags import list_tags_with_counts

MAPPING = {
    "first_name": "First name",
    "last_name": "Surname",
    "email": "E-mail",
    "phone": "Mobile",
    "email_consent": "Newsletter",
    "tags": "Tags",
}
HEADER = "First name;Surname;E-mail;Mobile;Newsletter;Tags;Notes\r\n"


def _file(tmp_path: Path, body: str, name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_bytes((HEADER + body).encode("utf-8"))
    return path


def _by_email(session: Session) -> dict[str, object]:
    rows = list_customers(session, limit=500).rows
    return {r.email or r.phone: r for r in rows}


def test_bad_rows_are_reported_with_line_and_reason_and_good_rows_import(
    engine: Engine, tmp_path: Path
) -> None:
    path = _file(
        tmp_path,
        "Ann;Lee;ann@example.com;;yes;VIP, Lunch;\r\n"  # line 2
        'Bob;"Multi\r\nline";not-an-email;;;;\r\n'  # line 3 (bad, spans 2 lines)
        "Cat;Ng;;+1 202 555 0143;;;\r\n"  # line 5
        "Dan;Oh;;12;;;\r\n"  # line 6 (bad phone)
        "\r\n"
        ";;;;;;just a note\r\n"  # line 8 (missing both)
        "Eve;Ko;ANN@example.com;;;;\r\n",  # line 9 (duplicate of line 2)
    )
    seen: list[tuple[int, int]] = []
    result = run_import(
        engine, path, MAPPING, "add_only", ["Spring fair"], lambda d, t: seen.append((d, t))
    )
    assert [(e.line, e.reason.split(":")[0]) for e in result.errors] == [
        (3, "invalid email"),
        (6, "unparseable phone"),
        (8, "missing both email and phone"),
        (9, "duplicate inside the file"),
    ]
    assert "line 2" in result.errors[3].reason
    assert (result.created, result.error_count, result.rows_total) == (2, 4, 6)
    assert seen[-1] == (6, 6)
    with Session(engine) as session:
        people = _by_email(session)
        assert set(people) == {"ann@example.com", "+12025550143"}
        ann = customer_detail(session, people["ann@example.com"].id)  # type: ignore[attr-defined]
        assert ann.email_consent is True and ann.sms_consent is False
        assert sorted(t.name for t in ann.tags) == ["Lunch", "Spring fair", "VIP"]
        assert [(h.source, h.channel, h.granted) for h in ann.consent_history] == [
            ("import", "email", True)
        ]
        cat = customer_detail(session, people["+12025550143"].id)  # type: ignore[attr-defined]
        assert cat.email_consent is False and cat.consent_history == []  # never invented

    report = write_error_report(result.errors, tmp_path / "report.csv")
    with report.open(encoding="utf-8-sig", newline="") as fh:
        lines = list(csv.DictReader(fh))
    assert [(r["line"], r["Notes"]) for r in lines] == [
        ("3", ""),
        ("6", ""),
        ("8", "just a note"),
        ("9", ""),
    ]


def test_missing_consent_column_means_not_subscribed(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("email,name\na@example.com,A\n")
    result = run_import(engine, path, {"email": "email", "first_name": "name"}, "add_only", [])
    assert result.created == 1
    with Session(engine) as session:
        assert list_customers(session, CustomerFilter(email_consent=True)).rows == []
        assert (
            session.execute(sa.select(sa.func.count()).select_from(ConsentEvent)).scalar_one() == 0
        )


def _existing(engine: Engine) -> int:
    with Session(engine) as session:
        c = create_customer(
            session,
            CustomerInput("Old", "Name", "ann@example.com", "+12025550100", email_consent=True),
        )
        session.commit()
        return c.id  # type: ignore[return-value]


def test_add_only_never_touches_existing_customers(engine: Engine, tmp_path: Path) -> None:
    cid = _existing(engine)
    path = _file(
        tmp_path,
        "New;Person;ann@example.com;+1 202 555 0199;no;Other;\r\nZed;Z;z@example.com;;;;\r\n",
    )
    result = run_import(engine, path, MAPPING, "add_only", ["Imported"])
    assert (result.created, result.updated, result.skipped_existing, result.error_count) == (
        1,
        0,
        1,
        0,
    )
    with Session(engine) as session:
        old = customer_detail(session, cid)
        assert (old.first_name, old.last_name, old.phone, old.email_consent) == (
            "Old",
            "Name",
            "+12025550100",
            True,
        )
        assert old.tags == [] and len(old.consent_history) == 1


def test_add_update_updates_non_empty_fields_and_records_consent(
    engine: Engine, tmp_path: Path
) -> None:
    cid = _existing(engine)
    path = _file(
        tmp_path,
        "Annie;;ann@example.com;+1 202 555 0199;no;Regular;\r\n"
        "Same;Person;other@example.com;+1 202 555 0100;;;\r\n",  # same customer, by old phone
    )
    result = run_import(engine, path, MAPPING, "add_update", [])
    assert (result.created, result.updated, result.error_count) == (0, 1, 1)
    assert "same existing customer as line 2" in result.errors[0].reason
    with Session(engine) as session:
        c = customer_detail(session, cid)
        assert (c.first_name, c.last_name, c.phone) == ("Annie", "Name", "+12025550199")
        assert c.email_consent is False
        assert [(h.channel, h.granted, h.source) for h in c.consent_history][0] == (
            "email",
            False,
            "import",
        )
        assert [t.name for t in c.tags] == ["Regular"]
    # Importing the same file again changes nothing: the row is merely matched.
    again = run_import(
        engine,
        _file(tmp_path, "Annie;;ann@example.com;;;;\r\n", "again.csv"),
        MAPPING,
        "add_update",
        [],
    )
    assert (again.updated, again.unchanged) == (0, 1)


def test_rows_matching_two_different_customers_are_refused(engine: Engine, tmp_path: Path) -> None:
    _existing(engine)
    with Session(engine) as session:
        create_customer(session, CustomerInput("B", "B", "b@example.com", "+12025550111"))
        session.commit()
    path = _file(tmp_path, "X;Y;ann@example.com;+12025550111;;;\r\n")
    result = run_import(engine, path, MAPPING, "add_update", [])
    assert [e.reason for e in result.errors] == [
        "email and phone belong to two different existing customers"
    ]


def _queued_job(engine: Engine, path: Path, **fields: str) -> int:
    """An import job row for `path` with MAPPING, as the import page leaves it for the worker."""
    with Session(engine) as session:
        job = ImportJob(
            filename="people.csv",
            stored_path=str(path),
            mode="add_only",
            mapping_json=json.dumps(MAPPING),
            **fields,
        )
        session.add(job)
        session.commit()
        return int(job.id)  # type: ignore[arg-type]


def test_chunks_and_import_job_row(engine: Engine, tmp_path: Path) -> None:
    body = "".join(f"P{i};L;p{i}@example.com;;yes;;\r\n" for i in range(25)) + "Bad;L;bad@;;;;\r\n"
    path = _file(tmp_path, body)
    job_id = _queued_job(engine, path, tags_json=json.dumps(["Fair"]))
    assert run_job(job_id, engine=engine) == "done"  # type: ignore[arg-type]
    with Session(engine) as session:
        job = session.get(ImportJob, job_id)
        assert job is not None
        assert (job.status, job.rows_total, job.rows_done, job.created_count, job.error_count) == (
            "done",
            26,
            26,
            25,
            1,
        )
        assert (
            job.report_path
            and Path(job.report_path).read_text(encoding="utf-8-sig").count("\n") == 2
        )
        assert [t.customers for t in list_tags_with_counts(session) if t.name == "Fair"] == [25]

        broken = ImportJob(
            filename="x.csv", stored_path=str(path), mapping_json='{"email": "Nope"}'
        )
        session.add(broken)
        session.commit()
        broken_id = broken.id
    assert run_job(broken_id, engine=engine) == "failed"  # type: ignore[arg-type]
    with Session(engine) as session:
        broken = session.get(ImportJob, broken_id)
        assert broken is not None and broken.status == "failed"
        assert "no column named 'Nope'" in broken.message


def test_an_import_with_only_notes_keeps_its_report(engine: Engine, tmp_path: Path) -> None:
    job_id = _queued_job(
        engine, _file(tmp_path, "Ann;Lee;ann@example.com ::: ann@work.example;;yes;;\r\n")
    )
    assert run_job(job_id, engine=engine) == "done"  # type: ignore[arg-type]
    with Session(engine) as session:
        job = session.get(ImportJob, job_id)
        assert job is not None and (job.created_count, job.error_count) == (1, 0)
        assert job.report_path, "the note about the second address was thrown away"
        assert "the first of 2 email addresses" in Path(job.report_path).read_text("utf-8-sig")


def test_small_chunks_give_the_same_result(sqlite_engine: Engine, tmp_path: Path) -> None:
    body = "".join(f"P{i};L;p{i % 7}@example.com;;;t{i % 3};\r\n" for i in range(20))
    result = run_import(sqlite_engine, _file(tmp_path, body), MAPPING, "add_only", [], chunk_rows=3)
    assert (result.created, result.error_count) == (7, 13)
    with Session(sqlite_engine) as session:
        assert session.execute(sa.select(sa.func.count()).select_from(Tag)).scalar_one() == 3


def test_mapping_errors_are_refused_before_any_row(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = _file(tmp_path, "A;B;a@example.com;;;;\r\n")
    with pytest.raises(ValueError, match="email or phone"):
        run_import(sqlite_engine, path, {"first_name": "First name"}, "add_only", [])
    with pytest.raises(ValueError, match="mode"):
        run_import(sqlite_engine, path, MAPPING, "replace_all", [])


FRENCH = "Amélie;Roux;amelie@example.com;01 23 45 67 89;;;\r\n"  # line 2: a French number
NO_EMAIL = "Luc;Roux;;01 23 45 67 90;;;\r\n"  # line 3: nothing left without the phone


def test_a_phone_that_does_not_parse_rejects_the_row_by_default(
    engine: Engine, tmp_path: Path
) -> None:
    result = run_import(engine, _file(tmp_path, FRENCH + NO_EMAIL), MAPPING, "add_only", [])
    assert (result.created, result.error_count) == (0, 2)
    assert [e.reason.split(":")[0] for e in result.errors] == ["unparseable phone"] * 2


def test_the_owner_can_import_such_rows_without_the_phone_and_the_report_says_so(
    engine: Engine, tmp_path: Path
) -> None:
    report = tmp_path / "report.csv"
    result = run_import(
        engine,
        _file(tmp_path, FRENCH + NO_EMAIL),
        {**MAPPING, "sms_consent": "Newsletter"},
        "add_only",
        [],
        report_path=report,
        invalid_phone=InvalidPhone.DROP_PHONE,
    )
    assert (result.created, result.phones_dropped, result.error_count) == (1, 1, 1)
    assert "1 without their phone" in result.summary()
    with Session(engine) as session:
        (amelie,) = list_customers(session).rows
        assert (amelie.email, amelie.phone, amelie.sms_consent) == ("amelie@example.com", "", False)
    with report.open(encoding="utf-8-sig", newline="") as fh:
        lines = [(r["line"], r["outcome"], r["reason"].split(":")[0]) for r in csv.DictReader(fh)]
    assert lines == [
        ("2", "imported", "imported without the phone"),
        ("3", "rejected", "unparseable phone"),
    ]


def test_a_cell_with_several_addresses_keeps_the_first_and_the_report_says_so(
    engine: Engine, tmp_path: Path
) -> None:
    """Google Contacts joins addresses with " ::: "; Outlook writes "Name <address>"."""
    report = tmp_path / "report.csv"
    body = (
        "Ann;Lee;ann@example.com ::: ann.lee@work.example;+12025550143 ::: +12025550199;yes;;\r\n"
        "Ada;L;Ada Lovelace <ada@example.com>;;yes;;\r\n"
        "Bo;K;mailto:bo@example.com;;;;\r\n"
    )
    result = run_import(engine, _file(tmp_path, body), MAPPING, "add_only", [], report_path=report)
    assert (result.created, result.error_count, result.phones_dropped) == (3, 0, 0)
    with Session(engine) as session:
        people = _by_email(session)
    assert sorted(people) == ["ada@example.com", "ann@example.com", "bo@example.com"]
    assert people["ann@example.com"].phone == "+12025550143"
    with report.open(encoding="utf-8-sig", newline="") as fh:
        noted = [(r["line"], r["outcome"], r["reason"]) for r in csv.DictReader(fh)]
    assert noted == [
        (
            "2",
            "imported",
            "the first of 2 email addresses in the cell was kept; "
            "the first of 2 phone numbers in the cell was kept",
        )
    ]


def test_birthdays_import_and_a_bad_one_leaves_only_the_birthday_out(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "guests.csv"
    path.write_text(
        "Name,Email,Birthday\n"
        "Ann,ann@example.com,05/06/1990\n"  # a US business: 6 May
        "Bo,bo@example.com,17.05.\n"
        "Cy,cy@example.com,31/02/1990\n"
        "Di,di@example.com,\n"
    )
    mapping = {"first_name": "Name", "email": "Email", "birthday": "Birthday"}
    report = tmp_path / "report.csv"
    result = run_import(engine, path, mapping, "add_update", [], region="US", report_path=report)
    assert (result.created, result.error_count, result.phones_dropped) == (4, 0, 0)
    with Session(engine) as session:
        born = {
            name: (m, d, y)
            for name, m, d, y in session.execute(
                sa.select(
                    Customer.first_name,
                    Customer.birthday_month,
                    Customer.birthday_day,
                    Customer.birthday_year,
                )
            )
        }
    assert born == {
        "Ann": (5, 6, 1990),
        "Bo": (5, 17, None),
        "Cy": (None, None, None),
        "Di": (None, None, None),
    }
    with report.open(encoding="utf-8-sig", newline="") as fh:
        noted = [(r["line"], r["outcome"], r["reason"]) for r in csv.DictReader(fh)]
    assert noted == [
        (
            "4",
            "imported",
            "imported without the birthday: Birthday day: February has days 1 to 29, not 31.",
        )
    ]

    # add_update: a birthday in a later file fills in or corrects; an empty cell keeps it
    path.write_text("Email,Birthday\ncy@example.com,1985-02-28\nann@example.com,\n")
    again = run_import(engine, path, {"email": "Email", "birthday": "Birthday"}, "add_update", [])
    assert (again.updated, again.unchanged) == (1, 1)
    with Session(engine) as session:
        cy = session.execute(sa.select(Customer).where(Customer.first_name == "Cy")).scalar_one()
        ann = session.execute(sa.select(Customer).where(Customer.first_name == "Ann")).scalar_one()
    assert (cy.birthday_month, cy.birthday_day, cy.birthday_year) == (2, 28, 1985)
    assert (ann.birthday_month, ann.birthday_day) == (5, 6)


def test_the_phone_region_is_chosen_per_import(engine: Engine, tmp_path: Path) -> None:
    result = run_import(
        engine, _file(tmp_path, FRENCH + NO_EMAIL), MAPPING, "add_only", [], region="FR"
    )
    assert (result.created, result.error_count) == (2, 0)
    with Session(engine) as session:
        phones = sorted(r.phone for r in list_customers(session).rows)
    assert phones == ["+33123456789", "+33123456790"]
    with pytest.raises(ValueError, match="not a country code"):
        run_import(engine, _file(tmp_path, FRENCH), MAPPING, "add_only", [], region="XX")


def test_the_error_report_neutralises_formulas_and_is_private(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    report = tmp_path / "reports" / "report.csv"
    body = '=HYPERLINK("http://evil.example","x");@SUM(1);not-an-email;;;;+cmd\r\n'
    result = run_import(
        sqlite_engine, _file(tmp_path, body), MAPPING, "add_only", [], report_path=report
    )
    assert result.error_count == 1
    with report.open(encoding="utf-8-sig", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["First name"] == '\'=HYPERLINK("http://evil.example","x")'
    assert (row["Surname"], row["Notes"]) == ("'@SUM(1)", "'+cmd")
    assert report.stat().st_mode & 0o777 == 0o600
    assert report.parent.stat().st_mode & 0o777 == 0o700
