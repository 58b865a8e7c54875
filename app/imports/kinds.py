"""What a kind of import is (loại dữ liệu nhập): its columns, an example, and how one record of
the file is written. People have their own fast path (people.py); every other kind writes each
record through the registry's own services (records.py), so a row is checked by exactly the
rules of the API and a bad row is refused with the reason the API would give."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from app.auth.models import Role
from app.auth.principal import Principal
from app.imports.sheets import Column
from app.registry.national_id import NationalIds
from app.registry.service import WRITERS


@dataclass(frozen=True)
class Row:
    """One data row: its number in the file (the header is row 1) and its cells by column key."""

    number: int
    values: dict[str, str | None]

    def get(self, key: str) -> str | None:
        return self.values.get(key)


@dataclass
class Context:
    """What writing one import's records needs; `cache` keeps lookups (units by code, people by
    national ID…) for the length of the import."""

    session: Session
    principal: Principal
    ids: NationalIds
    on_day: date
    variant: str | None = None
    cache: dict[Any, Any] = field(default_factory=dict)
    job_id: int | None = None  # the import job (accounts: whose codes sheet delivers the new codes)


class RowError(Exception):
    """An error found in a record: the column (its key), the reason in Vietnamese, and the row,
    when the record has several rows (a household and its members)."""

    def __init__(self, column: str, reason: str, row: Row | None = None) -> None:
        super().__init__(reason)
        self.column, self.reason, self.row = column, reason, row


class RowErrors(RowError):  # noqa: N818 - several RowError at once, named after it
    """Every error found in one record, so one run reports each wrong member row of a household,
    not only the first. Read as a plain RowError it is the first of them."""

    def __init__(self, errors: list[RowError]) -> None:
        first = errors[0]
        super().__init__(first.column, first.reason, first.row)
        self.errors = errors


@dataclass(frozen=True)
class Kind:
    key: str  # in the API and the CLI: "households"
    label: str  # on pages: "Hộ gia đình và thành viên"
    columns: list[Column]
    example: list[list[str]]  # rows of the template's example
    # Writes one record (the rows sharing `record_key`) through the services and answers how
    # many things it created and how many it found already there. It raises RowError, Problem
    # or a Pydantic ValidationError for a bad record; the record's writes are then undone.
    apply: Callable[[Context, list[Row]], tuple[int, int]] | None = None
    # Rows with the same key are one record (a household's member rows); None: a row each.
    record_key: Callable[[Row], Any] | None = None
    # The API's field names where they differ from the column keys (errors name the column).
    field_columns: dict[str, str] = field(default_factory=dict)
    guide: tuple[str, ...] = ()  # more lines for the instructions sheet
    # Kinds whose columns depend on a variant (assessments: "title:criteria version"): the
    # extra columns, and the variants there are (value, label).
    variant_columns: Callable[[Session, str], list[Column]] | None = None
    variants: Callable[[Session], list[tuple[str, str]]] | None = None
    # Who may import this kind (accounts: administrators only); default: the registry's writers.
    roles: tuple[Role, ...] = WRITERS
    fast: bool = False  # people: checked and written in bulk (people.py), not record by record
