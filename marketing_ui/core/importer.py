"""CSV import of customers in chunks: validate rows, match by blind index, bulk insert/update.

Each chunk of rows is one transaction: validation happens in Python, then one lookup query
finds the existing customers, one multi-row INSERT adds the new ones, one executemany
UPDATE changes the matched ones (add_update only), and tag links and consent events go in
with bulk inserts. Good rows import even when others fail; each failure is kept with its
line number and reason.

A row whose phone does not parse is rejected, or (the owner's choice per import, with the
region numbers without +country belong to) imported without the phone when it has an email;
the report notes each such row.

The error report echoes the rejected row as it was in the file, including the bad email or
phone: it goes to the owner who uploaded that same file, who needs the value to fix it. It
is a 0600 file in the data folder, its cells neutralised against spreadsheet formulas;
nothing from it is ever logged. The job around an import (upload, queue, progress, history,
clean-up) is `core.import_jobs`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from marketing_ui.core.clock import utcnow
from marketing_ui.core.config import get_settings
from marketing_ui.core.crypto import (
    BlindIndexer,
    FieldCipher,
    blind_indexer,
    cipher,
    normalize_phone,
)
from marketing_ui.core.csv_reader import (
    FIELDS,
    count_records,
    iter_records,
    parse_consent,
    read_headers,
)
from marketing_ui.core.csv_safety import restore, safe_row
from marketing_ui.core.customers import encrypt_contact
from marketing_ui.core.db import insert_ignore
from marketing_ui.core.models import ConsentEvent, Customer, CustomerTag, InvalidPhone, new_uid
from marketing_ui.core.phone_regions import check_region
from marketing_ui.core.private_files import private_dir, private_opener
from marketing_ui.core.tags import ensure_tags
from marketing_ui.core.visits import (
    MONTH_FIRST_REGIONS,
    Birthday,
    BirthdayError,
    parse_birthday_text,
)

MODES = ("add_only", "add_update")
REJECTED = "rejected"  # the report's outcome column
IMPORTED = "imported"
CHUNK_ROWS = 2000
MAX_KEPT_ERRORS = 10_000  # the full list goes to the report file; the UI shows the first ones
_customers = Customer.__table__
_links = CustomerTag.__table__
_consents = ConsentEvent.__table__
_TAG_SPLIT = re.compile(r"[,;|]")
# Several addresses in one cell: Google Contacts joins them with " ::: ", people with ; , | or /.
_EMAILS_SPLIT = re.compile(r"\s*(?::::|[;,/|])\s*|\s+")
_PHONES_SPLIT = re.compile(r"\s*(?::::|[;,|])\s*")  # not "/": 030/1234567 is one number
_NAMED_ADDRESS = re.compile(r"^[^<>]*<\s*([^<>\s]+@[^<>\s]+)\s*>$")  # Ada Lovelace <ada@x.org>


def _first_address(cell: str, kind: str) -> tuple[str, int]:
    """The first address of a cell and how many more it held ("a@x.org ::: b@x.org")."""
    if kind == "email":
        named = _NAMED_ADDRESS.match(cell)
        cell = named.group(1) if named else cell
        cell = cell[7:] if cell.lower().startswith("mailto:") else cell
    parts = [p for p in (_EMAILS_SPLIT if kind == "email" else _PHONES_SPLIT).split(cell) if p]
    return (parts[0], len(parts) - 1) if parts else ("", 0)


SessionFactory = Callable[[], Session]
_BIRTHDAY_COLUMNS = ("birthday_month", "birthday_day", "birthday_year")


def _birthday_columns(birthday: Birthday | None) -> dict[str, int | None]:
    if birthday is None:
        return dict.fromkeys(_BIRTHDAY_COLUMNS)
    return dict(zip(_BIRTHDAY_COLUMNS, (birthday.month, birthday.day, birthday.year), strict=True))


@dataclass(frozen=True)
class RowError:
    """One rejected record: where it starts in the file, why, and its cells as read."""

    line: int
    reason: str
    values: dict[str, str]


@dataclass(frozen=True)
class RowNote:
    """An imported record the owner may want to look at again (its phone was left out, or a
    cell held several addresses and the first was kept)."""

    line: int
    reason: str
    values: dict[str, str]
    phone_dropped: bool = False


@dataclass
class ImportResult:
    rows_total: int = 0
    rows_done: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0  # add_update: matched an existing customer with nothing new
    skipped_existing: int = 0  # add_only: matched an existing customer, left untouched
    phones_dropped: int = 0  # imported without their unparseable phone (the owner's choice)
    noted: int = 0  # imported with a note in the report (phone left out, first address kept)
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)  # the first MAX_KEPT_ERRORS

    def summary(self) -> str:
        dropped = f", {self.phones_dropped} without their phone" if self.phones_dropped else ""
        return (
            f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.skipped_existing} skipped (already existed){dropped}, "
            f"{self.error_count} with errors"
        )


@dataclass
class _Row:
    line: int
    values: dict[str, str]
    first_name: str
    last_name: str
    email: str
    phone: str
    email_bidx: str | None
    phone_bidx: str | None
    email_consent: bool | None
    sms_consent: bool | None
    tags: list[str]
    birthday: Birthday | None = None
    note: str = ""  # set when the row imports without its phone or with the first of addresses
    phone_dropped: bool = False


def check_mapping(mapping: dict[str, str], headers: list[str]) -> None:
    """Refuse a mapping the file cannot satisfy before any row is touched."""
    unknown = set(mapping) - set(FIELDS)
    if unknown:
        raise ValueError(f"Unknown field(s) in mapping: {', '.join(sorted(unknown))}.")
    missing = [column for column in mapping.values() if column not in headers]
    if missing:
        raise ValueError(f"The file has no column named {', '.join(map(repr, missing))}.")
    if "email" not in mapping and "phone" not in mapping:
        raise ValueError("Map at least one of the email or phone columns.")


class _Validator:
    """Per-row checks plus the in-file duplicate memory (hash digests only, 32 bytes a row)."""

    def __init__(
        self, mapping: dict[str, str], bidx: BlindIndexer, region: str, invalid_phone: str
    ) -> None:
        self.mapping = mapping
        self.bidx = bidx
        self.region = region
        self.drop_bad_phone = invalid_phone == InvalidPhone.DROP_PHONE
        self.month_first = region.upper() in MONTH_FIRST_REGIONS  # 05/06 is 6 May in the US
        self.seen_email: dict[bytes, int] = {}
        self.seen_phone: dict[bytes, int] = {}

    def _get(self, values: dict[str, str], name: str) -> str:
        column = self.mapping.get(name)
        return restore(values.get(column, "").strip()) if column else ""

    def check(self, line: int, values: dict[str, str]) -> _Row | RowError:
        raw_email, more_emails = _first_address(self._get(values, "email"), "email")
        raw_phone, more_phones = _first_address(self._get(values, "phone"), "phone")
        email = phone = ""
        notes = []
        if more_emails:
            notes.append(f"the first of {more_emails + 1} email addresses in the cell was kept")
        if more_phones:
            notes.append(f"the first of {more_phones + 1} phone numbers in the cell was kept")
        phone_dropped = False
        if raw_email:
            try:
                email = validate_email(raw_email, check_deliverability=False).normalized
            except EmailNotValidError as exc:
                return RowError(line, f"invalid email: {exc}", values)
        if raw_phone:
            try:
                phone = normalize_phone(raw_phone, self.region)
            except ValueError as exc:
                if not (self.drop_bad_phone and email):
                    return RowError(line, f"unparseable phone: {exc}", values)
                notes.append(f"imported without the phone: {exc}")
                phone_dropped = True
        if not email and not phone:
            return RowError(line, "missing both email and phone", values)
        email_bidx = self.bidx.email(email) if email else None
        phone_bidx = self.bidx.phone(phone) if phone else None
        email_key = bytes.fromhex(email_bidx) if email_bidx else None
        phone_key = bytes.fromhex(phone_bidx) if phone_bidx else None
        if email_key and email_key in self.seen_email:
            return RowError(
                line,
                f"duplicate inside the file: same email as line {self.seen_email[email_key]}",
                values,
            )
        if phone_key and phone_key in self.seen_phone:
            return RowError(
                line,
                f"duplicate inside the file: same phone as line {self.seen_phone[phone_key]}",
                values,
            )
        if email_key:
            self.seen_email[email_key] = line
        if phone_key:
            self.seen_phone[phone_key] = line
        tags_cell = self._get(values, "tags")
        birthday = None
        try:
            birthday = parse_birthday_text(self._get(values, "birthday"), self.month_first)
        except BirthdayError as exc:  # a customer is worth importing without a birthday
            notes.append(f"imported without the birthday: {exc}")
        return _Row(
            line=line,
            values=values,
            first_name=" ".join(self._get(values, "first_name").split())[:120],
            last_name=" ".join(self._get(values, "last_name").split())[:120],
            email=email,
            phone=phone,
            email_bidx=email_bidx,
            phone_bidx=phone_bidx,
            email_consent=parse_consent(self._get(values, "email_consent")),
            sms_consent=parse_consent(self._get(values, "sms_consent")),
            tags=[t.strip() for t in _TAG_SPLIT.split(tags_cell) if t.strip()] if tags_cell else [],
            birthday=birthday,
            note="; ".join(notes),
            phone_dropped=phone_dropped,
        )


@dataclass
class _ChunkOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_existing: int = 0
    errors: list[RowError] = field(default_factory=list)
    notes: list[RowNote] = field(default_factory=list)  # rows written with a note
    touched: dict[int, int] = field(default_factory=dict)  # existing customer id -> line


class _Writer:
    """Writes one validated chunk in a handful of statements."""

    def __init__(self, mode: str, fixed_tags: dict[str, int], note: str) -> None:
        self.mode = mode
        self.tag_ids = dict(fixed_tags)  # lowercased name -> id (fixed tags + those met so far)
        self.fixed_tag_ids = sorted(set(fixed_tags.values()))
        self.note = note[:255]
        self.touched: dict[int, int] = {}
        self.fc: FieldCipher = cipher()

    def write(self, session: Session, rows: list[_Row]) -> _ChunkOutcome:
        out = _ChunkOutcome()
        now = utcnow()
        dialect = session.get_bind().dialect.name
        existing = self._lookup(session, rows)
        by_email = {c["email_bidx"]: c for c in existing if c["email_bidx"]}
        by_phone = {c["phone_bidx"]: c for c in existing if c["phone_bidx"]}
        cell_tags = {
            t.lower(): t for row in rows for t in row.tags if t.lower() not in self.tag_ids
        }
        if cell_tags:
            self.tag_ids.update(ensure_tags(session, cell_tags.values()))

        new_rows: list[dict] = []
        new_meta: list[_Row] = []
        updates: list[dict] = []
        consent_events: list[dict] = []
        links: set[tuple[int, int]] = set()
        for row in rows:
            match_e = by_email.get(row.email_bidx) if row.email_bidx else None
            match_p = by_phone.get(row.phone_bidx) if row.phone_bidx else None
            if match_e and match_p and match_e["id"] != match_p["id"]:
                out.errors.append(
                    RowError(
                        row.line,
                        "email and phone belong to two different existing customers",
                        row.values,
                    )
                )
                continue
            match = match_e or match_p
            if match is None:
                new_rows.append(self._new_customer(row, now))
                new_meta.append(row)
                continue
            if self.mode == "add_only":
                out.skipped_existing += 1
                continue
            earlier = self.touched.get(match["id"]) or out.touched.get(match["id"])
            if earlier:
                out.errors.append(
                    RowError(
                        row.line,
                        f"matches the same existing customer as line {earlier}",
                        row.values,
                    )
                )
                continue
            out.touched[match["id"]] = row.line
            changed = self._merge(match, row, now, consent_events)
            if changed:
                updates.append(match)
                out.updated += 1
            else:
                out.unchanged += 1
            if row.note:
                out.notes.append(RowNote(row.line, row.note, row.values, row.phone_dropped))
            links.update((match["id"], t) for t in self._row_tag_ids(row))

        if new_rows:
            stmt = insert(_customers).returning(_customers.c.id, sort_by_parameter_order=True)
            ids = [r[0] for r in session.execute(stmt, new_rows)]
            out.created = len(ids)
            for customer_id, row in zip(ids, new_meta, strict=True):
                links.update((customer_id, t) for t in self._row_tag_ids(row))
                if row.note:
                    out.notes.append(RowNote(row.line, row.note, row.values, row.phone_dropped))
                for channel, granted in (("email", row.email_consent), ("sms", row.sms_consent)):
                    if granted and (row.email if channel == "email" else row.phone):
                        consent_events.append(self._consent(customer_id, channel, True, now))
        if updates:
            stmt = (
                update(_customers)
                .where(_customers.c.id == bindparam("_id"))
                .values(
                    {
                        name: bindparam(name)
                        for name in (
                            "first_name",
                            "last_name",
                            "email_enc",
                            "email_bidx",
                            "phone_enc",
                            "phone_bidx",
                            "email_consent",
                            "sms_consent",
                            *_BIRTHDAY_COLUMNS,
                            "updated_at",
                        )
                    }
                )
            )
            session.connection().execute(
                stmt,
                [
                    {**{k: v for k, v in u.items() if k not in ("id", "uid")}, "_id": u["id"]}
                    for u in updates
                ],
            )
        if consent_events:
            session.execute(insert(_consents), consent_events)
        if links:
            session.execute(  # tag links may exist already
                insert_ignore(dialect, _links),
                [{"customer_id": c, "tag_id": t} for c, t in sorted(links)],
            )
        return out

    def _lookup(self, session: Session, rows: list[_Row]) -> list[dict]:
        emails = [r.email_bidx for r in rows if r.email_bidx]
        phones = [r.phone_bidx for r in rows if r.phone_bidx]
        columns = [
            _customers.c[name]
            for name in (
                "id",
                "uid",
                "first_name",
                "last_name",
                "email_enc",
                "email_bidx",
                "phone_enc",
                "phone_bidx",
                "email_consent",
                "sms_consent",
                *_BIRTHDAY_COLUMNS,
            )
        ]
        found: dict[int, dict] = {}
        for column, values in (
            (_customers.c.email_bidx, emails),
            (_customers.c.phone_bidx, phones),
        ):
            if values:
                for rec in session.execute(select(*columns).where(column.in_(values))).mappings():
                    found[rec["id"]] = dict(rec)
        return list(found.values())

    def _row_tag_ids(self, row: _Row) -> list[int]:
        return self.fixed_tag_ids + [self.tag_ids[t.lower()] for t in row.tags]

    def _consent(self, customer_id: int, channel: str, granted: bool, now) -> dict:  # noqa: ANN001
        return {
            "customer_id": customer_id,
            "channel": channel,
            "granted": granted,
            "source": "import",
            "note": self.note,
            "created_at": now,
        }

    def _new_customer(self, row: _Row, now) -> dict:  # noqa: ANN001
        uid = new_uid()
        return {
            "uid": uid,
            "first_name": row.first_name,
            "last_name": row.last_name,
            "email_enc": encrypt_contact(self.fc, uid, "email", row.email) if row.email else None,
            "email_bidx": row.email_bidx,
            "phone_enc": encrypt_contact(self.fc, uid, "phone", row.phone) if row.phone else None,
            "phone_bidx": row.phone_bidx,
            "email_consent": bool(row.email_consent) and bool(row.email),
            "sms_consent": bool(row.sms_consent) and bool(row.phone),
            **_birthday_columns(row.birthday),
            "created_at": now,
            "updated_at": now,
        }

    def _merge(self, current: dict, row: _Row, now, consent_events: list[dict]) -> bool:  # noqa: ANN001
        """Copy the row's non-empty cells onto `current`; True if anything changed."""
        changed = False
        for name in ("first_name", "last_name"):
            value = getattr(row, name)
            if value and value != current[name]:
                current[name] = value
                changed = True
        for kind, plain, index in (
            ("email", row.email, row.email_bidx),
            ("phone", row.phone, row.phone_bidx),
        ):
            if plain and index != current[f"{kind}_bidx"]:
                current[f"{kind}_enc"] = encrypt_contact(self.fc, current["uid"], kind, plain)
                current[f"{kind}_bidx"] = index
                changed = True
        if row.birthday:
            given = _birthday_columns(row.birthday)
            if any(current[k] != v for k, v in given.items()):
                current.update(given)
                changed = True
        for channel, granted in (("email", row.email_consent), ("sms", row.sms_consent)):
            key = f"{channel}_consent"
            if granted is not None and granted != bool(current[key]):
                current[key] = granted
                consent_events.append(self._consent(current["id"], channel, granted, now))
                changed = True
        current["updated_at"] = now
        return changed


def _chunks(
    records: Iterable[tuple[int, dict[str, str]]], size: int
) -> Iterator[list[tuple[int, dict[str, str]]]]:
    it = iter(records)
    while chunk := list(islice(it, size)):
        yield chunk


def _factory(target: Engine | SessionFactory) -> SessionFactory:
    if isinstance(target, Engine):
        return lambda: Session(target, expire_on_commit=False)
    return target


class _ReportWriter:
    """Streams rejected and noted rows to the report CSV as they happen (a bad million-row file
    stays cheap): owner-only file, every cell neutralised against spreadsheet formulas."""

    def __init__(self, path: Path | str | None, headers: list[str]) -> None:
        self.headers = headers
        self.fh: IO[str] | None = None
        self.writer = None
        if path is not None:
            private_dir(Path(path).parent)
            self.fh = open(  # noqa: SIM115 - closed by close()
                path, "w", newline="", encoding="utf-8-sig", opener=private_opener
            )
            self.writer = csv.writer(self.fh)
            self.writer.writerow(["line", "outcome", "reason", *headers])

    def add(self, errors: Sequence[RowError], notes: Sequence[RowNote] = ()) -> None:
        if self.writer is None:
            return
        lines = [(e, REJECTED) for e in errors] + [(n, IMPORTED) for n in notes]
        for item, outcome in sorted(lines, key=lambda pair: pair[0].line):
            self.writer.writerow(
                safe_row(
                    [
                        item.line,
                        outcome,
                        item.reason,
                        *(item.values.get(h, "") for h in self.headers),
                    ]
                )
            )

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()


def run_import(
    target: Engine | SessionFactory,
    path: Path | str,
    mapping: dict[str, str],
    mode: str = "add_only",
    tags: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    chunk_rows: int = CHUNK_ROWS,
    report_path: Path | str | None = None,
    source_name: str | None = None,
    on_chunk: Callable[[ImportResult], None] | None = None,
    region: str | None = None,
    invalid_phone: str = InvalidPhone.REJECT_ROW,
) -> ImportResult:
    """Import `path` with `mapping` ({field: column}); streams the file, one transaction per chunk.

    `region`: country of phone numbers written without +country (default: DEFAULT_REGION).
    `invalid_phone`: reject such rows, or import them without the phone when they have an email.
    """
    if mode not in MODES:
        raise ValueError("mode must be 'add_only' or 'add_update'")
    if invalid_phone not in tuple(InvalidPhone):
        raise ValueError("invalid_phone must be 'reject_row' or 'drop_phone'")
    region = check_region(region or get_settings().default_region)
    headers = read_headers(path)
    check_mapping(mapping, headers)
    factory = _factory(target)
    result = ImportResult(rows_total=count_records(path))
    with factory() as session:
        fixed = ensure_tags(session, tags or [])
        session.commit()
    note = f"CSV import of {source_name or Path(path).name}"  # the name the owner uploaded
    validator = _Validator(mapping, blind_indexer(), region, invalid_phone)
    writer = _Writer(mode, fixed, note)
    report = _ReportWriter(report_path, headers)
    try:
        for chunk in _chunks(iter_records(path), chunk_rows):
            rows: list[_Row] = []
            errors: list[RowError] = []
            for line, values in chunk:
                checked = validator.check(line, values)
                (errors if isinstance(checked, RowError) else rows).append(checked)  # type: ignore[arg-type]
            outcome = _write_chunk(factory, writer, rows)
            errors.extend(outcome.errors)
            errors.sort(key=lambda e: e.line)
            result.rows_done += len(chunk)
            result.created += outcome.created
            result.updated += outcome.updated
            result.unchanged += outcome.unchanged
            result.skipped_existing += outcome.skipped_existing
            result.phones_dropped += sum(1 for n in outcome.notes if n.phone_dropped)
            result.noted += len(outcome.notes)
            result.error_count += len(errors)
            room = MAX_KEPT_ERRORS - len(result.errors)
            result.errors.extend(errors[: max(room, 0)])
            report.add(errors, outcome.notes)
            if progress:
                progress(result.rows_done, result.rows_total)
            if on_chunk:
                on_chunk(result)
    finally:
        report.close()
    return result


def _write_chunk(factory: SessionFactory, writer: _Writer, rows: list[_Row]) -> _ChunkOutcome:
    """One transaction; retried once if a concurrent writer took an email or phone meanwhile."""
    known_tags = dict(writer.tag_ids)
    for attempt in (1, 2):
        with factory() as session:
            try:
                outcome = writer.write(session, rows)
                session.commit()
            except IntegrityError:
                session.rollback()
                writer.tag_ids = dict(known_tags)  # tags created in the rolled-back chunk are gone
                if attempt == 2:
                    reason = "could not be saved: another change took the same email or phone; import again"
                    return _ChunkOutcome(errors=[RowError(r.line, reason, r.values) for r in rows])
                continue
        writer.touched.update(outcome.touched)
        return outcome
    raise AssertionError("unreachable")


def write_error_report(errors: Iterable[RowError], path: Path | str) -> Path:
    """A CSV the owner opens in Excel: line, reason, then the row's cells as read from the file."""
    errors = list(errors)
    headers: list[str] = []
    for e in errors:
        headers.extend(h for h in e.values if h not in headers)
    report = _ReportWriter(path, headers)
    try:
        report.add(errors)
    finally:
        report.close()
    return Path(path)


def report_path_for(job_id: int) -> Path:
    """The one place an import's report lives: the download endpoint serves nothing else."""
    return get_settings().data_dir / "imports" / f"import-{job_id}-errors.csv"
