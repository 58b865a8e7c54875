"""What the imports of registry records share (hộ gia đình, dòng họ, cơ quan đơn vị, thôn tổ dân
phố): units named by code on the file's day inside the importer's jurisdiction, people found in
the registry (by CCCD, or by name and birth date where they live), and a refusal — a schema's or a
service's — turned into errors that name the row and the column, gathered for the whole record so
one run reports every wrong row of a household, not only the first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.exceptions import Problem, field_errors
from app.imports.kinds import Context, Row, RowError, RowErrors
from app.registry.models import Clan, Household, Organisation, Person, Residence
from app.registry.service import WRITERS, national_id_taken, visible_subject_unit_or_none
from app.rules import TitleCode
from app.text import clean_name, iso_day, plain
from app.units.models import AdministrativeUnit
from app.units.service import in_jurisdiction, unit_named, units_by_codes

T = TypeVar("T")
DATE_REASON = "Ngày không hợp lệ; viết dd/mm/yyyy."
CONFLICT_REASON = "Dữ liệu trùng hoặc mâu thuẫn với sổ đăng ký."
OUTSIDE = "Đơn vị ngoài phạm vi quản lý của tài khoản."
# Schemas need a person's id before the row's person is known; the rows' own fields (relation,
# joined day) are checked with this stand-in, replaced by the real id before anything is written.
STAND_IN_ID = 1


def choices_text(choices: dict[str, str]) -> str:
    """The values a column takes, each code once, quoted (some hold a comma): “Nam”, “Nữ”."""
    shown: dict[str, str] = {}
    for label, code in choices.items():
        shown.setdefault(code, label)
    return ", ".join(f"“{label}”" for label in shown.values())


def choice(row: Row, key: str, choices: dict[str, str]) -> str | None:
    """A column with fixed values written in Vietnamese ("Trường học"), as the API's code
    ("school"); accents and case do not matter, the code itself is understood too. Blank: None."""
    text = row.get(key)
    if not text:
        return None
    known = {plain(label): code for label, code in choices.items()} | {code: code for code in choices.values()}
    found = known.get(plain(text))
    if found is None:
        raise RowError(key, f"Phải là một trong: {choices_text(choices)}.", row)
    return found


def national_id(row: Row, key: str = "national_id") -> str | None:
    """The row's CCCD; a number cell that dropped one or two leading zeros gets them back (a CCCD
    starts with a province code 001–096, so no more can be lost; see people.py)."""
    text = row.get(key)
    if text and text.isascii() and text.isdigit() and len(text) in (10, 11):
        return text.zfill(12)
    return text or None


def day(text: str | None) -> str | None:
    return iso_day(text or "")


# --- errors ---------------------------------------------------------------------------------


def _column(path: str, fields: dict[str, str], default: str) -> str:
    for part in reversed(path.split(".")):
        if part in fields:
            return fields[part]
    return default


def row_errors(
    wrong: Exception,
    row: Row,
    fields: dict[str, str],
    default: str,
    *,
    codes: dict[str, str] | None = None,
    sources: dict[str, Row] | None = None,
) -> list[RowError]:
    """A refusal as errors on `row`: a field the API names becomes the column holding it
    (`fields`: API field → column key); a refusal naming no field goes to the column its code
    says (`codes`), else `default`. `sources` moves an error to the row that gave its column."""
    if isinstance(wrong, RowErrors):
        return list(wrong.errors)
    if isinstance(wrong, RowError):
        return [wrong if wrong.row else RowError(wrong.column, wrong.reason, row)]
    if isinstance(wrong, IntegrityError):
        return [RowError(default, CONFLICT_REASON, row)]
    if isinstance(wrong, ValidationError):
        problems = [(e.field, e.message, e.code) for e in field_errors(wrong.errors(include_url=False))]
    elif isinstance(wrong, Problem) and wrong.errors:
        problems = [(e.field, e.message, e.code) for e in wrong.errors]
    elif isinstance(wrong, Problem):
        return [RowError((codes or {}).get(wrong.code, default), wrong.detail or wrong.title, row)]
    else:
        raise wrong
    found = []
    for path, message, code in problems:
        column = _column(path, fields, default)
        # Days are written dd/mm/yyyy in a file: say so, not the API's ISO form.
        reason = DATE_REASON if code.startswith("date") else message
        found.append(RowError(column, reason, (sources or {}).get(column, row)))
    return found


class Errors:
    """The errors of one record, gathered while the rest of it is still checked."""

    def __init__(self, context: Context) -> None:
        self.session = context.session
        self.found: list[RowError] = []

    def add(self, error: RowError) -> None:
        self.found.append(error)

    def check(
        self, work: Callable[[], T], row: Row, fields: dict[str, str], default: str, ignore: tuple[str, ...] = (), **how
    ) -> T | None:
        """`work()`, or None with its errors noted (nothing written: no savepoint needed); errors
        on the `ignore` columns are left out (the record has said them once already)."""
        try:
            return work()
        except (RowError, Problem, ValidationError) as wrong:
            self.found.extend(e for e in row_errors(wrong, row, fields, default, **how) if e.column not in ignore)
            return None

    def write(
        self, work: Callable[[], T], row: Row, fields: dict[str, str], default: str, **how
    ) -> tuple[bool, T | None]:
        """(True, `work()`) in a savepoint of its own, or (False, None) with its errors noted and
        its writes undone, so the record's other rows can still be checked."""
        try:
            with self.session.begin_nested():
                return True, work()
        except (RowError, Problem, ValidationError, IntegrityError) as wrong:
            self.found.extend(row_errors(wrong, row, fields, default, **how))
            return False, None

    def raise_any(self) -> None:
        if self.found:
            raise RowErrors(self.found)


def record_values(
    rows: list[Row], keys: dict[str, Callable[[str], object]], what: str, errors: Errors
) -> tuple[dict[str, str | None], dict[str, Row]]:
    """A record's own columns (a household's day, an organisation's kind), which any of its rows
    may fill: the first row that does says it, another row saying otherwise is an error. `keys`:
    column → how two values compare (days as days, words without accents). Answers the values
    and the row each came from (errors about a value point there)."""
    values: dict[str, str | None] = {}
    sources: dict[str, Row] = {}
    for key, same in keys.items():
        for row in rows:
            text = row.get(key)
            if not text:
                continue
            if key not in values:
                values[key], sources[key] = text, row
            elif same(text) != same(values[key] or ""):
                reason = f"Khác với dòng {sources[key].number} ({values[key]}) của cùng {what}; chỉ ghi một giá trị."
                errors.add(RowError(key, reason, row))
        values.setdefault(key, None)
        sources.setdefault(key, rows[0])
    return values, sources


# --- units ----------------------------------------------------------------------------------


def unit(context: Context, key: str, row: Row) -> AdministrativeUnit:
    """The unit the row's code names on the file's day, where the importer may write; each code
    is looked up (and its refusal worded) once per import."""
    code = (row.get(key) or "").strip()
    cached = context.cache.get(("unit", code))
    if cached is None:
        try:
            cached = unit_named(context.session, code, context.on_day, key)
        except Problem as problem:
            cached = problem.errors[0].message if problem.errors else problem.detail
        else:
            principal = context.principal
            if principal.role not in WRITERS or not in_jurisdiction(context.session, principal, cached.id):
                cached = OUTSIDE
        context.cache[("unit", code)] = cached
    if isinstance(cached, str):
        raise RowError(key, cached, row)
    return cached


def same_unit_on(context: Context, found: AdministrativeUnit, on: date | None, key: str, row: Row) -> None:
    """A record starting on another day than the file's (`on`, in column `key`): the service
    reads the code on that day, so it must name the same unit then too — else the record would
    be written in another unit than the file means (codes were reused in the 2025 reform)."""
    if on is None or on == context.on_day:
        return
    then = units_by_codes(context.session, [found.code], on).get(found.code)
    if then is None or then.id != found.id:
        start = f" (có từ {found.valid_from:%d/%m/%Y})" if found.valid_from else ""
        reason = (
            f"Vào ngày {on:%d/%m/%Y} mã {found.code} không chỉ {found.name}{start}; "
            "hãy ghi ngày trong thời gian đơn vị này đã có."
        )
        raise RowError(key, reason, row)


# --- people ---------------------------------------------------------------------------------


def person_by_national_id(
    context: Context,
    row: Row,
    number: str,
    full_name: str | None = None,
    birth_date: date | None = None,
    outside: str | None = None,
) -> Person | None:
    """The person with this CCCD (under any key version), when the importer may see them; a
    person with it outside the importer's units is an error on the CCCD column: `outside`, or
    the API's answer to registering them again (which says how to bring them over). A name or
    birth date that differs from the registry's means a mistyped number more often than a
    misspelt name: an error too."""
    session = context.session
    found = session.scalar(select(Person).where(Person.national_id_hmac.in_(context.ids.digests(number))))
    if found is None:
        return None
    if visible_subject_unit_or_none(session, context.principal, TitleCode.CITIZEN, found.id) is None:
        reason = outside or national_id_taken(session, context.principal, found.id).detail
        raise RowError("national_id", reason, row)
    if full_name and plain(full_name) != plain(found.full_name):
        raise RowError("full_name", "Họ tên khác với người có số CCCD này trong sổ; hãy kiểm tra số CCCD.", row)
    if birth_date and found.birth_date and birth_date != found.birth_date:
        raise RowError("birth_date", "Ngày sinh khác với người có số CCCD này trong sổ; hãy kiểm tra số CCCD.", row)
    return found


def person_by_name(
    context: Context, row: Row, full_name: str, birth_date: date | None, where: AdministrativeUnit
) -> Person | None:
    """A person without a CCCD living in `where` today, with this name and birth date (as the
    people import matches them); several such people are an error asking for the CCCD."""
    found = list(
        context.session.scalars(
            select(Person)
            .join(Residence, (Residence.person_id == Person.id) & Residence.valid_to.is_(None))
            .where(
                Residence.unit_id == where.id,
                Person.full_name == full_name,
                Person.birth_date == birth_date if birth_date else Person.birth_date.is_(None),
                Person.national_id_hmac.is_(None),
            )
            .limit(2)
        )
    )
    if len(found) > 1:
        reason = f"Có nhiều người cùng họ tên và ngày sinh ở {where.name}; hãy ghi số CCCD để phân biệt."
        raise RowError("full_name", reason, row)
    return found[0] if found else None


def name_key(name: str | None) -> str:
    """How names are compared, by the record keys and when matching (as the other imports find
    subjects, app/imports/subjects.py): as stored (`clean_name`), case aside."""
    return clean_name(name or "").casefold()


def named(context: Context, what: str, owner: AdministrativeUnit, name: str, key: str, row: Row) -> int | None:
    """The id of the household, organisation (living or based in `owner` today) or clan (of the
    home commune `owner`) of this name, if there is one; several is an error on column `key`
    (which one was meant cannot be told). The names of a unit are read once per import: a record
    is everything the file says of one name, so a name this import writes is never looked up
    again."""
    names = context.cache.get((what, owner.id))
    if names is None:
        model = {"household": Household, "organisation": Organisation, "clan": Clan}[what]
        statement = select(model.id, model.name)
        if model is Clan:
            statement = statement.where(Clan.home_unit_id == owner.id)
        else:
            column = getattr(Residence, f"{what}_id")
            statement = statement.join(Residence, (column == model.id) & Residence.valid_to.is_(None)).where(
                Residence.unit_id == owner.id
            )
        names = {}
        for found_id, found_name in context.session.execute(statement):
            names.setdefault(name_key(found_name), []).append(found_id)
        context.cache[(what, owner.id)] = names
    found = names.get(name_key(name), [])
    if len(found) > 1:
        noun = {"household": "hộ", "organisation": "cơ quan, đơn vị", "clan": "dòng họ"}[what]
        raise RowError(key, f"Có nhiều {noun} tên “{name}” ở {owner.name}; không biết là {noun} nào.", row)
    return found[0] if found else None


def joined_day(given: date | None, since: date, birth_date: date | None) -> date:
    """The day a member joins: as written, else the record's day — or the person's birth, for a
    child born after it (nobody belongs to anything before being born)."""
    if given is not None:
        return given
    return max(since, birth_date) if birth_date else since
