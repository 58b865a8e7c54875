"""Importing a file record by record through the registry's services (every kind but people).

Each record (one row, or the rows sharing a key: a household and its members) is written in
its own savepoint inside one savepoint for the whole file: a bad record is undone and reported
(row, column, value, reason) and checking goes on, so one run finds every error. At the end the
file's savepoint is kept only when nothing was wrong and this is not a dry run — all or nothing,
and a dry run has done exactly what the real run would, then undone it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from app.exceptions import Problem, field_errors
from app.imports import sheets
from app.imports.kinds import Context, Kind, Row, RowError, RowErrors
from app.imports.sheets import Column

PROGRESS_EVERY = 200  # records


@dataclass
class Outcome:
    rows: int = 0
    created: int = 0
    matched: int = 0
    errors: list[dict] = field(default_factory=list)


def read(columns: list[Column], rows: Iterator[list[str | None]], outcome: Outcome) -> list[Row]:
    """The data rows by column key; header errors go into the outcome (and no row is read)."""
    header = next(rows, None)
    if header is None:
        outcome.errors.append(sheets.error(1, "", None, "Tệp trống."))
        return []
    positions, errors = sheets.header_positions(columns, header)
    if errors:
        outcome.errors.extend(errors)
        return []
    found = []
    for number, cells in enumerate(rows, start=2):
        if not any(cells):
            continue
        found.append(
            Row(number, {key: cells[index] if index < len(cells) else None for key, index in positions.items()})
        )
    outcome.rows = len(found)
    return found


def records(kind: Kind, rows: list[Row]) -> list[list[Row]]:
    """Rows grouped into records, in the order each record first appears."""
    if kind.record_key is None:
        return [[row] for row in rows]
    grouped: dict[object, list[Row]] = {}
    for row in rows:
        grouped.setdefault(kind.record_key(row), []).append(row)
    return list(grouped.values())


def run(
    kind: Kind,
    context: Context,
    columns: list[Column],
    rows: Iterator[list[str | None]],
    write: bool,
    progress: Callable[[int], None] | None = None,
) -> Outcome:
    outcome = Outcome()
    session = context.session
    headers = {column.key: column.header for column in columns}
    whole = session.begin_nested()
    try:
        done = 0
        for record in records(kind, read(columns, rows, outcome)):
            try:
                with session.begin_nested():
                    created, matched = kind.apply(context, record)
                outcome.created += created
                outcome.matched += matched
            except (RowError, Problem, ValidationError, IntegrityError) as wrong:
                outcome.errors.extend(_errors(kind, headers, record, wrong))
            done += len(record)
            if progress is not None and done // PROGRESS_EVERY != (done - len(record)) // PROGRESS_EVERY:
                progress(done)
    finally:
        if outcome.errors or not write:
            whole.rollback()
        else:
            whole.commit()
    return outcome


def _column_of(kind: Kind, headers: dict[str, str], path: str) -> str | None:
    """The column key an API field path (`body.members.0.person_id`, `unit_code`) names."""
    for part in reversed(path.split(".")):
        key = kind.field_columns.get(part, part)
        if key in headers:
            return key
    return None


def _errors(kind: Kind, headers: dict[str, str], record: list[Row], wrong: Exception) -> list[dict]:
    first = record[0]
    if isinstance(wrong, RowErrors):
        return [found for each in wrong.errors for found in _errors(kind, headers, record, each)]
    if isinstance(wrong, RowError):
        row = wrong.row or first
        value = sheets.masked(wrong.column, row.get(wrong.column))
        return [sheets.error(row.number, headers.get(wrong.column, ""), value, wrong.reason)]
    if isinstance(wrong, IntegrityError):
        reason = "Dữ liệu trùng hoặc mâu thuẫn với sổ đăng ký."
        return [sheets.error(first.number, "", None, reason)]
    if isinstance(wrong, ValidationError):
        problems = [(error.field, error.message, error.code) for error in field_errors(wrong.errors(include_url=False))]
    elif wrong.errors:
        problems = [(error.field, error.message, error.code) for error in wrong.errors]
    else:
        problems = [("", wrong.detail, wrong.code)]
    found = []
    for path, message, code in problems:
        key = _column_of(kind, headers, path)
        # Days are written dd/mm/yyyy in a file: say so, not the API's ISO form.
        reason = "Ngày không hợp lệ; viết dd/mm/yyyy." if code.startswith("date") else message
        value = sheets.masked(key, first.get(key)) if key else None
        found.append(sheets.error(first.number, headers.get(key, "") if key else "", value, reason))
    return found
