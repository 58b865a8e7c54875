"""Importing people on PostgreSQL, set-based: the file's rows are streamed with COPY into a TEMP
staging table (dropped at commit), checked there by SQL with the same rules and reasons as the
row-by-row path (people.py, the API's `PersonCreate`), then written with INSERT … SELECT into
people and residences (one statement per 50,000 rows of the file), inside the job's one
transaction.

Python does only the cheap work of each row: reading the cell (sheets.rows), the stored form of
the name (NFC, single spaces) and its normalised length, the mapping of "Nam"/"Nữ", and for a
national ID the restoring of lost leading zeros, its format, its HMAC under the app's key and its
mask. The clear number never reaches the database: the key lives outside it, so the HMAC cannot
be computed there, and a number that is not 12 digits has no digest (that is the format rule).
Everything else is SQL over the whole file at once: days (dd/mm/yyyy or ISO, the calendar, the
range, not in the future), the sex, the unit code's format, unit codes resolved by a join on the
file's day and checked against the importer's jurisdiction once per unit, residence before
birth, a CCCD repeated in the file (a window function over the rows that passed the other
checks), people already in the registry matched by their national ID's HMAC or by name, birth
date and unit (joins).

The reasons are the Python path's own: each is taken from `people.validate` run on a value that
breaks that rule (`_reasons`), and tests/test_imports_fast.py runs a file with every kind of bad
row through both paths and compares the reports, so the two cannot drift apart."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import islice

from sqlalchemy import text
from sqlalchemy.orm import Session

from app import clock
from app.auth.principal import Principal
from app.exceptions import Problem
from app.imports import people, sheets
from app.params import FIRST_DAY, LAST_DAY, NATIONAL_ID_DIGITS
from app.registry.models import Sex
from app.registry.national_id import NationalIds
from app.registry.schemas import PersonCreate
from app.registry.service import WRITERS
from app.stats import invalidation
from app.text import plain
from app.units.schemas import UnitCodeStr
from app.units.service import unit_named

PROGRESS_EVERY = 5000  # rows staged by one COPY, then the job's progress is noted
WRITE_EVERY = 50_000  # rows of the file written by one statement (each within the statement timeout)
# The schema's own limits: the length of a name, the form of a unit code.
NAME_MAX = next(
    rule.max_length for rule in PersonCreate.model_fields["full_name"].metadata if hasattr(rule, "max_length")
)
UNIT_CODE_PATTERN = UnitCodeStr.__metadata__[0].pattern
# plain() makes at most three characters of one (its decomposition, before NFC joins again; a
# Hangul syllable, a few musical symbols; checked over every code point by the tests), so only a
# name longer than NAME_MAX / 3 needs its plain length measured.
_PLAIN_GROWTH = 3

STAGE = "import_people_rows"
STAGE_COLUMNS = (
    "n",
    "full_name",
    "full_name_clean",
    "name_length",
    "birth_date",
    "sex",
    "sex_value",
    "national_id_digest",
    "national_id_given",
    "national_id_shown",
    "unit_code",
    "resident_since",
)


@dataclass
class Result:
    rows: int = 0
    created: int = 0  # written, or in a dry run those that would be
    matched: int = 0
    errors: list[dict] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # time per phase (the benchmark reports it)


def supported(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def run(
    session: Session,
    principal: Principal,
    ids: NationalIds,
    on_day: date,
    rows: Iterator[list[str | None]],
    progress: Callable[[int], None] | None = None,
    *,
    write: bool,
) -> Result:
    """Check the file's rows and, when `write` and nothing is wrong, create the new people and
    their residences, in the session's transaction (flushed, not committed)."""
    result = Result()
    started = time.perf_counter()
    header = next(rows, None)
    if header is None:
        result.errors.append(sheets.error(1, "", None, "Tệp trống."))
        return result
    positions, errors = people.header_errors(header)
    if errors:
        result.errors.extend(errors)
        return result
    session.flush()
    connection = session.connection()
    connection.exec_driver_sql(
        f"CREATE TEMP TABLE {STAGE} (n integer NOT NULL, full_name text, full_name_clean text, name_length integer, "
        "birth_date text, sex text, sex_value text, national_id_digest text, national_id_given boolean NOT NULL, "
        "national_id_shown text, unit_code text, resident_since text) ON COMMIT DROP"
    )
    result.rows = _stage(connection.connection.driver_connection, ids, positions, rows, progress)
    result.seconds["read and stage"] = time.perf_counter() - started

    _check(session, principal, on_day, result.seconds)
    mark = time.perf_counter()
    result.errors = [
        sheets.error(row, column, value, reason)
        for row, column, value, reason in session.execute(text(ERRORS), {**_columns(), "duplicate": people.DUPLICATE})
    ]
    result.matched, result.created = session.execute(text(COUNTS)).one()
    result.seconds["check: errors and counts"] = time.perf_counter() - mark
    if progress is not None:
        progress(result.rows)  # a heartbeat between the check and the write
    if write and not result.errors and result.created:
        mark = time.perf_counter()
        parameters = {
            "sequence": session.scalar(text("SELECT pg_get_serial_sequence('people', 'id')")),
            "key_version": ids.key_version,
            "now": clock.now(),
        }
        last = session.scalar(text("SELECT max(n) FROM import_people_ready"))
        result.created = 0
        for low in range(2, last + 1, WRITE_EVERY):  # statements of a bounded length, a heartbeat after each
            chunk = {**parameters, "low": low, "high": low + WRITE_EVERY}
            result.created += session.execute(text(WRITE), chunk).rowcount
            if progress is not None:
                progress(result.rows)
        units = session.scalars(text("SELECT DISTINCT unit_id FROM import_people_ready WHERE ok AND NOT matched"))
        invalidation.note_units(session, set(units))
        result.seconds["write"] = time.perf_counter() - mark
    return result


def _stage(driver, ids: NationalIds, positions: dict[str, int], rows, progress) -> int:
    """Stream the rows into the staging table, one COPY per PROGRESS_EVERY rows (each a short
    statement, however slow the file is to read), the progress told after each."""
    staged = _staged_rows(ids, positions, rows)
    columns = ", ".join(STAGE_COLUMNS)
    count = 0
    with driver.cursor() as cursor:
        while True:
            before = count
            with cursor.copy(f"COPY {STAGE} ({columns}) FROM STDIN") as copy:
                for values in islice(staged, PROGRESS_EVERY):
                    copy.write_row(values)
                    count += 1
            if count - before < PROGRESS_EVERY:
                return count
            if progress is not None:
                progress(count)


def _staged_rows(ids: NationalIds, positions: dict[str, int], rows) -> Iterator[tuple]:
    """The staging table's row for each data row of the file: only the cheap work of a row."""
    width = max(positions.values()) + 1
    name_at, birth_at, sex_at, id_at, unit_at, since_at = (
        positions.get(key) for key in ("full_name", "birth_date", "sex", "national_id", "unit_code", "resident_since")
    )
    sexes, digest, mask, digits = people.SEXES, ids.digest, ids.mask, NATIONAL_ID_DIGITS
    short = NAME_MAX // _PLAIN_GROWTH
    for number, row in enumerate(rows, start=2):
        if not any(row):
            continue
        if len(row) < width:
            row = row + [None] * (width - len(row))
        name = row[name_at] if name_at is not None else None
        clean = length = None
        if name is not None:
            clean = people.clean_name(name)
            length = len(clean) if len(clean) <= short else max(len(clean), len(plain(clean)))
            if clean == name:
                clean = None  # the usual case: not sent twice
        sex = row[sex_at] if sex_at is not None else None
        given = row[id_at] if id_at is not None else None
        national_id_digest = shown = None
        if given:
            national_id = people.national_id_cell(given)
            if digits.fullmatch(national_id):
                national_id_digest, shown = digest(national_id), mask(national_id)
            else:
                shown = sheets.masked("national_id", given)  # shown in the error, as the Python path does
        yield (
            number,
            name,
            clean,
            length,
            row[birth_at] if birth_at is not None else None,
            sex,
            sexes.get(sex.lower(), sex) if sex else None,
            national_id_digest,
            bool(given),
            shown,
            row[unit_at] if unit_at is not None else None,
            row[since_at] if since_at is not None else None,
        )


def _check(session: Session, principal: Principal, on_day: date, seconds: dict[str, float]) -> None:
    """The rules, set-based, in three tables: import_people_units (each code once: its form, the
    unit it names on the file's day, the jurisdiction), import_people_checked (the schema's rules,
    the unit, residence before birth) and import_people_ready (the rows that passed: a CCCD
    repeated in the file, matching with the registry)."""
    mark = time.perf_counter()
    session.execute(
        text(UNITS),
        {
            "on_day": on_day,
            "unit_pattern": UNIT_CODE_PATTERN,
            "writer": principal.role in WRITERS,
            "admin": principal.is_admin,
            "unit_ids": sorted(principal.unit_ids),
            "outside": people.OUTSIDE_JURISDICTION,
        },
    )
    # A code naming no unit that day: the reason says what the code has named (once per code).
    unknown = []
    for code in session.scalars(text("SELECT code FROM import_people_units WHERE shaped AND unit_id IS NULL")):
        try:
            unit_named(session, code, on_day, "unit_code")
        except Problem as problem:
            unknown.append({"code": code, "reason": problem.detail})
    if unknown:
        session.execute(text("UPDATE import_people_units SET reason = :reason WHERE code = :code"), unknown)
    seconds["check: units"] = time.perf_counter() - mark
    mark = time.perf_counter()
    session.execute(
        text(CHECKED),
        {
            **_reasons(on_day),
            # A blank residence day is the file's day, checked as if it had been written.
            "on_day": f"{on_day.day:02d}/{on_day.month:02d}/{on_day.year:04d}",
            "first_day": FIRST_DAY,
            "last_day": LAST_DAY,
            "today": clock.today(),
            "name_max": NAME_MAX,
            "sexes": [sex.value for sex in Sex],
            "before_birth": people.BEFORE_BIRTH,
        },
    )
    seconds["check: rows"] = time.perf_counter() - mark
    mark = time.perf_counter()
    session.execute(text(READY))
    seconds["check: duplicates and matching"] = time.perf_counter() - mark


def _reasons(on_day: date) -> dict[str, str]:
    """Each rule's reason as the row-by-row path gives it: `people.validate` on a value that
    breaks that rule alone."""
    tomorrow = f"{clock.today() + timedelta(days=1):%d/%m/%Y}"
    probes = {
        "name_short": ("full_name", None),
        "name_long": ("full_name", "x" * (NAME_MAX + 1)),
        "name_blank": ("full_name", " "),
        "name_normalised": ("full_name", "\u0958" * (NAME_MAX // 2 + 1)),  # NFC: two characters each
        "sex": ("sex", "x"),
        "national_id": ("national_id", "1"),
        "unit_code": ("unit_code", "x"),
    }
    for key in ("birth_date", "resident_since"):
        probes |= {
            f"{key}_format": (key, "x"),
            f"{key}_invalid": (key, "31/02/2001"),
            f"{key}_range": (key, f"01/01/{FIRST_DAY.year - 1}"),
            f"{key}_future": (key, tomorrow),
        }
    reasons = {}
    for name, (key, value) in probes.items():
        _, errors = people.validate({"full_name": "A", "unit_code": "00", key: value}, on_day)
        if len(errors) != 1 or errors[0][0] != key:
            raise RuntimeError(f"the probe of rule {name} gave {errors}")  # the Python rules changed
        reasons[name] = errors[0][1]
    return reasons


def _columns() -> dict[str, str]:
    return {f"c_{key}": header for key, header in people.FIELD_COLUMN.items()}


# --- the SQL ----------------------------------------------------------------------------------
# Days as the Python path reads them: app.text.iso_day turns d/m/yyyy into yyyy-mm-dd (each of d
# and m as f"{int(part):02d}") and leaves anything else as typed; the schema then wants
# YYYY-MM-DD (ASCII digits), a real date (proleptic Gregorian, as pydantic), FIRST_DAY–LAST_DAY,
# and not after today. Here the parts are taken straight from either form (`form` 1: d/m/yyyy,
# 2: YYYY-MM-DD, 0: neither): a day or month of d/m/yyyy with more than two digits once its
# leading zeros are dropped does not make the YYYY-MM-DD shape (iso_day would give "1990-123-05"),
# so it is NULL here, like every part of a text of neither form: the format's reason.
DMY = "^[0-9]+/[0-9]+/[0-9]{4}$"
ISO = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _form(column: str, name: str) -> str:
    return f"CASE WHEN {column} ~ '{DMY}' THEN 1 WHEN {column} ~ '{ISO}' THEN 2 ELSE 0 END AS {name}_form"


def _pieces(column: str, name: str) -> str:
    """The day's, month's and year's digits as written."""
    form = f"{name}_form"
    return ", ".join(
        f"CASE WHEN {form} = 1 THEN split_part({column}, '/', {part}) "
        f"WHEN {form} = 2 THEN substr({column}, {start}, {width}) END AS {name}_{key}_text"
        for key, part, start, width in (("d", 1, 9, 2), ("m", 2, 6, 2), ("y", 3, 1, 4))
    )


def _numbers(name: str) -> str:
    numbers = [f"{name}_y_text::integer AS {name}_y"]
    for key in "md":
        digits = f"{name}_{key}_text"
        short = f"length({digits}) <= 2 OR length(ltrim({digits}, '0')) <= 2"
        numbers.append(f"CASE WHEN {short} THEN {digits}::integer END AS {name}_{key}")
    return ", ".join(numbers)


def _day(name: str) -> str:
    """The date, when the parts make one on the calendar."""
    y, m, d = (f"{name}_{part}" for part in "ymd")
    last = (
        f"CASE WHEN {m} IN (4, 6, 9, 11) THEN 30 WHEN {m} = 2 THEN "
        f"CASE WHEN ({y} % 4 = 0 AND {y} % 100 <> 0) OR {y} % 400 = 0 THEN 29 ELSE 28 END ELSE 31 END"
    )
    return (
        f"CASE WHEN {y} >= 1 AND {m} BETWEEN 1 AND 12 AND {d} BETWEEN 1 AND {last} "
        f"THEN make_date({y}, {m}, {d}) END AS {name}_day"
    )


def _day_reason(column: str, name: str, key: str) -> str:
    return (
        f"CASE WHEN {column} IS NULL THEN NULL "
        f"WHEN {name}_y IS NULL OR {name}_m IS NULL OR {name}_d IS NULL THEN :{key}_format "
        f"WHEN {name}_day IS NULL THEN :{key}_invalid "
        f"WHEN {name}_day < :first_day OR {name}_day > :last_day THEN :{key}_range "
        f"WHEN {name}_day > :today THEN :{key}_future END"
    )


# Each code of the file once: whether it has the schema's form (UnitCodeStr's pattern; the same
# in PostgreSQL's regular expressions), the unit it names on the file's day (if two did, the
# newest) and whether the importer may write there. A code naming none gets its reason from
# Python (what the code has named), once per code.
UNITS = f"""
CREATE TEMP TABLE import_people_units ON COMMIT DROP AS
SELECT c.code, c.shaped, u.id AS unit_id,
    CASE WHEN u.id IS NOT NULL AND NOT (:writer AND (:admin OR EXISTS (
        SELECT 1 FROM unit_ancestors a WHERE a.unit_id = u.id AND a.ancestor_id = ANY(:unit_ids)
    ))) THEN :outside END AS reason
FROM (
    SELECT code, code ~ :unit_pattern AS shaped FROM (SELECT DISTINCT unit_code AS code FROM {STAGE}) d
    WHERE code IS NOT NULL
) c
LEFT JOIN LATERAL (
    SELECT a.id FROM administrative_units a
    WHERE c.shaped AND a.code = c.code AND (a.valid_from IS NULL OR a.valid_from <= :on_day)
        AND (a.valid_to IS NULL OR a.valid_to > :on_day)
    ORDER BY a.id DESC LIMIT 1
) u ON true
"""  # noqa: S608 - built from this module's constants

# The schema's rules, each a predicate giving its reason (NULL: right), then, for a row the schema
# takes, its unit's and residence before birth. `OFFSET 0` keeps each step a step (inlined, every
# use of a day would repeat the parsing before it).
CHECKED = f"""
CREATE TEMP TABLE import_people_checked ON COMMIT DROP AS
SELECT n, name, birth_day, sex_value, digest, shown, unit_id, since_day, name_reason, birth_reason, sex_reason,
    national_id_reason, unit_code_reason, since_reason, place_reason, order_reason,
    fields_ok AND place_reason IS NULL AND order_reason IS NULL AS passed
FROM (
    SELECT judged.*,
        CASE WHEN fields_ok THEN unit_reason END AS place_reason,
        CASE WHEN fields_ok AND unit_reason IS NULL AND since_day < birth_day THEN :before_birth END AS order_reason
    FROM (
        SELECT fields.*, num_nulls(name_reason, birth_reason, sex_reason, national_id_reason, unit_code_reason,
            since_reason) = 6 AS fields_ok
        FROM (
            SELECT n, coalesce(full_name_clean, full_name) AS name, birth_day, sex_value,
                national_id_digest AS digest, national_id_shown AS shown, unit_id, unit_reason, since_day,
                CASE WHEN coalesce(full_name, '') = '' THEN :name_short
                     WHEN length(full_name) > :name_max THEN :name_long
                     WHEN coalesce(full_name_clean, full_name) = '' THEN :name_blank
                     WHEN name_length > :name_max THEN :name_normalised END AS name_reason,
                {_day_reason("birth_date", "birth", "birth_date")} AS birth_reason,
                CASE WHEN sex_value IS NOT NULL AND NOT sex_value = ANY(:sexes) THEN :sex END AS sex_reason,
                CASE WHEN national_id_given AND national_id_digest IS NULL THEN :national_id END AS national_id_reason,
                CASE WHEN shaped IS NOT TRUE THEN :unit_code END AS unit_code_reason,
                {_day_reason("since", "since", "resident_since")} AS since_reason
            FROM (
                SELECT numbers.*, {_day("birth")}, {_day("since")}
                FROM (
                    SELECT pieces.*, {_numbers("birth")}, {_numbers("since")}
                    FROM (
                        SELECT forms.*, {_pieces("birth_date", "birth")}, {_pieces("since", "since")}
                        FROM (
                            SELECT s.*, coalesce(s.resident_since, :on_day) AS since, u.shaped, u.unit_id,
                                u.reason AS unit_reason, {_form("s.birth_date", "birth")},
                                {_form("coalesce(s.resident_since, :on_day)", "since")}
                            FROM {STAGE} s LEFT JOIN import_people_units u ON u.code = s.unit_code
                            OFFSET 0
                        ) forms OFFSET 0
                    ) pieces OFFSET 0
                ) numbers OFFSET 0
            ) days OFFSET 0
        ) fields OFFSET 0
    ) judged OFFSET 0
) checked
"""  # noqa: S608 - built from this module's constants

# The rows that passed everything else: a CCCD already on an earlier one of them is refused (a
# window over them: the first row of each CCCD); the others are matched with the registry, by
# national ID or, without one, by name and birth date in the same unit (a person living there
# now). What the write needs is kept.
READY = """
CREATE TEMP TABLE import_people_ready ON COMMIT DROP AS
WITH passed AS (
    SELECT n, name, birth_day, sex_value, digest, shown, unit_id, since_day,
        CASE WHEN digest IS NOT NULL THEN min(n) OVER (PARTITION BY digest) END AS first_n
    FROM import_people_checked WHERE passed
), residents AS (
    SELECT DISTINCT p.full_name, p.birth_date, r.unit_id
    FROM people p JOIN residences r ON r.person_id = p.id AND r.valid_to IS NULL
    WHERE p.national_id_hmac IS NULL AND r.unit_id IN (SELECT unit_id FROM passed WHERE digest IS NULL)
)
SELECT passed.*, passed.digest IS NULL OR passed.first_n = passed.n AS ok,
    known.id IS NOT NULL OR resident.unit_id IS NOT NULL AS matched
FROM passed
LEFT JOIN people known ON known.national_id_hmac = passed.digest
LEFT JOIN residents resident ON passed.digest IS NULL AND resident.full_name = passed.name
    AND resident.unit_id = passed.unit_id AND resident.birth_date IS NOT DISTINCT FROM passed.birth_day
"""

COUNTS = "SELECT count(*) FILTER (WHERE matched), count(*) FILTER (WHERE NOT matched) FROM import_people_ready WHERE ok"

# Every error, in file order and, within a row, in the order the Python path finds them.
ERRORS = """
SELECT n, col, value, reason FROM (
    SELECT r.n, e.position, e.col, e.value, e.reason
    FROM import_people_checked r
    JOIN import_people_rows s ON s.n = r.n
    CROSS JOIN LATERAL (VALUES
        (1, :c_full_name, s.full_name, r.name_reason),
        (2, :c_birth_date, s.birth_date, r.birth_reason),
        (3, :c_sex, s.sex, r.sex_reason),
        (4, :c_national_id, r.shown, r.national_id_reason),
        (5, :c_unit_code, s.unit_code, r.unit_code_reason),
        (6, :c_resident_since, s.resident_since, r.since_reason),
        (7, :c_unit_code, s.unit_code, r.place_reason),
        (8, :c_resident_since, s.resident_since, r.order_reason)
    ) e(position, col, value, reason)
    WHERE NOT r.passed AND e.reason IS NOT NULL
    UNION ALL
    SELECT n, 9, :c_national_id, shown, replace(:duplicate, '{row}', first_n::text)
    FROM import_people_ready WHERE NOT ok
) found
ORDER BY n, position
"""

# The new people and their residences in one statement, ids drawn from the sequence in file order.
WRITE = """
WITH chosen AS MATERIALIZED (
    SELECT nextval(CAST(:sequence AS regclass)) AS person_id, r.*
    FROM (
        SELECT * FROM import_people_ready WHERE ok AND NOT matched AND n >= :low AND n < :high ORDER BY n
    ) r
), new_people AS (
    INSERT INTO people (id, full_name, birth_date, sex, occupational_group, national_id_hmac,
        national_id_key_version, national_id_masked, created_at, updated_at)
    SELECT person_id, name, birth_day, sex_value, NULL, digest,
        CASE WHEN digest IS NOT NULL THEN CAST(:key_version AS integer) END,
        CASE WHEN digest IS NOT NULL THEN shown END, :now, :now
    FROM chosen
)
INSERT INTO residences (person_id, unit_id, valid_from, reason, note, created_at, updated_at)
SELECT person_id, unit_id, since_day, 'registered', '', :now, :now FROM chosen
"""
