"""Importing people (công dân): every row checked with the API's rules (the same schema,
`PersonCreate`), units resolved by code on the file's day and checked against the importer's
jurisdiction once per code, national IDs matched with the registry (a person already there is
matched, not created, so uploading the same file again creates nothing), then written with one
INSERT per table. This is the path on SQLite; on PostgreSQL the same rules run set-based in a
staging table (people_sql.py), with the helpers and reasons defined here."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date

from pydantic import ValidationError
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from app import clock
from app.auth.principal import Principal
from app.exceptions import Problem, field_errors
from app.imports import sheets
from app.imports.kinds import Kind
from app.imports.sheets import Column
from app.registry.models import Person, Residence
from app.registry.national_id import NationalIds
from app.registry.schemas import PersonCreate
from app.registry.service import WRITERS
from app.stats import invalidation
from app.text import iso_day
from app.units.models import AdministrativeUnit
from app.units.service import in_jurisdiction, unit_named

COLUMNS = [
    Column("full_name", "Họ và tên", True, "Họ và tên đầy đủ, có dấu."),
    Column("birth_date", "Ngày sinh", False, "dd/mm/yyyy, ví dụ 05/04/1990."),
    Column("sex", "Giới tính", False, "Nam hoặc Nữ."),
    Column("national_id", "Số CCCD", False, "12 chữ số; người đã có trong sổ (cùng số CCCD) không bị tạo lại."),
    Column("unit_code", "Mã nơi cư trú", True, "Mã thôn, tổ dân phố (ví dụ 00367-001) hoặc mã xã, phường."),
    Column("resident_since", "Cư trú từ ngày", False, "dd/mm/yyyy; bỏ trống là ngày của tệp."),
]
EXAMPLE = [["Nguyễn Văn An", "02/03/1985", "Nam", "001085012345", "00367-001", "01/07/2025"]]
SEXES = {"nam": "male", "nữ": "female", "nu": "female", "male": "male", "female": "female"}
FIELD_COLUMN = {column.key: column.header for column in COLUMNS}
# The reasons of the checks made after the schema's (shared with the set-based path, people_sql.py).
DAY_REASON = "Ngày không hợp lệ; viết dd/mm/yyyy."
OUTSIDE_JURISDICTION = "Đơn vị ngoài phạm vi quản lý của tài khoản."
BEFORE_BIRTH = "Ngày cư trú trước ngày sinh."
DUPLICATE = "Số CCCD trùng với dòng {row} của tệp."


@dataclass
class Checked:
    """What checking a file found: the people to create, those already in the registry, errors."""

    new: list[tuple[int, PersonCreate, str | None]] = field(default_factory=list)  # (row, person, digest)
    matched: int = 0
    errors: list[dict] = field(default_factory=list)
    rows: int = 0
    units: dict[str, AdministrativeUnit] = field(default_factory=dict)


def header_errors(header: list[str | None]) -> tuple[dict[str, int], list[dict]]:
    return sheets.header_positions(COLUMNS, header)


def check(
    session: Session,
    principal: Principal,
    ids: NationalIds,
    on_day: date,
    rows,
    progress=None,
) -> Checked:
    """Check every row; nothing is written."""
    result = Checked()
    header = next(rows, None)
    if header is None:
        result.errors.append(sheets.error(1, "", None, "Tệp trống."))
        return result
    positions, errors = header_errors(header)
    result.errors.extend(errors)
    if errors:
        return result
    seen_ids: dict[str, int] = {}
    for number, row in enumerate(rows, start=2):
        if not any(row):
            continue
        result.rows += 1
        values = {key: row[index] if index < len(row) else None for key, index in positions.items()}
        _check_row(session, principal, ids, on_day, number, values, result, seen_ids)
        if progress is not None and result.rows % 5000 == 0:
            progress(result.rows)
    match_existing(session, ids, result)
    return result


def clean_name(value: str) -> str:
    """app.text.clean_name (NFC, single spaces, trimmed), faster: `str.split()` splits on exactly
    the white space `\\s` matches (a test compares the two over every code point)."""
    return " ".join(unicodedata.normalize("NFC", value).split())


def national_id_cell(value: str | None) -> str | None:
    """A CCCD as written in a cell: a number cell drops leading zeros, and a CCCD starts with a
    province code 001–096, so at most two can be lost (restored here). Anything shorter is an
    error, not a number to pad."""
    if value and value.isascii() and value.isdigit() and len(value) in (10, 11):
        return value.zfill(12)
    return value or None


def validate(values: dict[str, str | None], on_day: date) -> tuple[PersonCreate | None, list[tuple[str, str]]]:
    """A row's cells through the API's schema: the person, or the errors as (column key, reason)."""
    sex = values.get("sex")
    try:
        person = PersonCreate(
            full_name=values.get("full_name") or "",
            birth_date=iso_day(values.get("birth_date") or ""),
            sex=SEXES.get(sex.lower(), sex) if sex else None,
            national_id=national_id_cell(values.get("national_id")),
            unit_code=values.get("unit_code") or "",
            resident_since=iso_day(values.get("resident_since") or "") or on_day,
        )
    except ValidationError as invalid:
        errors = []
        for error in field_errors(invalid.errors(include_url=False)):
            # Days are written dd/mm/yyyy in a file: say so, not the API's ISO form.
            reason = DAY_REASON if error.code.startswith("date") else error.message
            errors.append((error.field.split(".")[0], reason))
        return None, errors
    return person, []


def _check_row(session, principal, ids, on_day, number, values, result: Checked, seen_ids) -> None:
    person, errors = validate(values, on_day)
    if person is None:
        for key, reason in errors:
            value = sheets.masked(key, values.get(key))  # even a mistyped CCCD is shown masked
            result.errors.append(sheets.error(number, FIELD_COLUMN.get(key, key), value, reason))
        return
    code = person.unit_code
    if code not in result.units:
        try:
            unit = unit_named(session, code, on_day, "unit_code")
        except Problem as problem:
            result.errors.append(sheets.error(number, FIELD_COLUMN["unit_code"], code, problem.detail))
            return
        if principal.role not in WRITERS or not in_jurisdiction(session, principal, unit.id):
            result.errors.append(sheets.error(number, FIELD_COLUMN["unit_code"], code, OUTSIDE_JURISDICTION))
            return
        result.units[code] = unit
    if person.birth_date and person.resident_since and person.resident_since < person.birth_date:
        result.errors.append(
            sheets.error(number, FIELD_COLUMN["resident_since"], values.get("resident_since"), BEFORE_BIRTH)
        )
        return
    digest = None
    if person.national_id is not None:
        plain = person.national_id.get_secret_value()
        digest = ids.digest(plain)
        if digest in seen_ids:
            reason = DUPLICATE.format(row=seen_ids[digest])
            result.errors.append(sheets.error(number, FIELD_COLUMN["national_id"], ids.mask(plain), reason))
            return
        seen_ids[digest] = number
    result.new.append((number, person, digest))


def match_existing(session: Session, ids: NationalIds, result: Checked) -> None:
    """People already in the registry are matched, not created: by national ID, or without one
    by the same name and birth date living in the same unit."""
    digests = {digest for _, _, digest in result.new if digest}
    known: set[str] = set()
    for chunk in _chunks(sorted(digests), 1000):
        known.update(session.scalars(select(Person.national_id_hmac).where(Person.national_id_hmac.in_(chunk))))
    unit_ids = {unit.id for unit in result.units.values()}
    residents = set()
    if unit_ids:
        residents = set(
            session.execute(
                select(Person.full_name, Person.birth_date, Residence.unit_id)
                .join(Residence, (Residence.person_id == Person.id) & Residence.valid_to.is_(None))
                .where(Residence.unit_id.in_(sorted(unit_ids)), Person.national_id_hmac.is_(None))
            ).all()
        )
    still_new = []
    for number, person, digest in result.new:
        unit_id = result.units[person.unit_code].id
        if (digest and digest in known) or (not digest and (person.full_name, person.birth_date, unit_id) in residents):
            result.matched += 1
        else:
            still_new.append((number, person, digest))
    result.new = still_new


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


PEOPLE_COLUMNS = (
    "full_name",
    "birth_date",
    "sex",
    "occupational_group",
    "national_id_hmac",
    "national_id_key_version",
    "national_id_masked",
    "created_at",
    "updated_at",
)
RESIDENCE_COLUMNS = ("person_id", "unit_id", "valid_from", "reason", "note", "created_at", "updated_at")


def write(session: Session, ids: NationalIds, checked: Checked) -> int:
    """Create the new people and their residences in the caller's transaction (all or nothing):
    on PostgreSQL with COPY, the ids drawn from the sequence first; elsewhere one INSERT per
    table."""
    if not checked.new:
        return 0
    now = clock.now()
    people = []
    for _, person, digest in checked.new:
        plain = person.national_id.get_secret_value() if person.national_id else None
        people.append(
            {
                "full_name": person.full_name,
                "birth_date": person.birth_date,
                "sex": person.sex,
                "occupational_group": None,
                "national_id_hmac": digest,
                "national_id_key_version": ids.key_version if digest else None,
                "national_id_masked": ids.mask(plain) if plain else None,
                "created_at": now,
                "updated_at": now,
            }
        )
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        new_ids = list(
            session.scalars(
                text("SELECT nextval(pg_get_serial_sequence('people', 'id')) FROM generate_series(1, :n)"),
                {"n": len(people)},
            )
        )
    else:
        new_ids = session.scalars(insert(Person).returning(Person.id, sort_by_parameter_order=True), people).all()
    residences = [
        {
            "person_id": person_id,
            "unit_id": checked.units[person.unit_code].id,
            "valid_from": person.resident_since,
            "reason": "registered",
            "note": "",
            "created_at": now,
            "updated_at": now,
        }
        for person_id, (_, person, _) in zip(new_ids, checked.new, strict=True)
    ]
    if postgres:
        for row, person_id in zip(people, new_ids, strict=True):
            row["id"] = person_id
        _copy(session, "people", ("id", *PEOPLE_COLUMNS), people)
        _copy(session, "residences", RESIDENCE_COLUMNS, residences)
    else:
        session.execute(insert(Residence), residences)
    invalidation.note_units(session, {row["unit_id"] for row in residences})
    return len(new_ids)


def _copy(session: Session, table: str, columns: tuple[str, ...], rows: list[dict]) -> None:
    """COPY rows into a table on the session's own connection, inside its transaction."""
    driver = session.connection().connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(tuple(row[column] for column in columns))


KIND = Kind(key="people", label="Công dân", columns=COLUMNS, example=EXAMPLE, fast=True)
