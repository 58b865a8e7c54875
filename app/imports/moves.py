"""Chuyển nơi cư trú hàng loạt: the people (or households) of a split or merged ward moved to
their new unit from a sheet, without anyone logging in as each citizen.

A row names a person by CCCD, or by name, birth date and the code of the unit they live in (or
lived in until the day of the move); a household by its name (and its head's name, when two
households share one) and that code. Each row is one move through `registry.service.move`:
the same checks as `POST /people/{id}/residence` (the new unit is a commune or village the
importer may write to on the day of the move, the day is not before the current residence nor
in the future). Someone already living in the new unit from that day or earlier is matched,
not moved again, so the same file uploaded twice moves nobody twice."""

from __future__ import annotations

from datetime import date

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import aliased

from app.exceptions import Problem
from app.imports.kinds import Context, Kind, Row, RowError
from app.imports.sheets import Column
from app.registry import service as registry
from app.registry.models import Household, Person, Residence
from app.registry.schemas import MoveIn
from app.rules import TitleCode
from app.text import iso_day, plain
from app.units.models import AdministrativeUnit, UnitAncestor
from app.units.service import units_by_codes

FROM_COLUMN = Column(
    "current_unit_code",
    "Mã nơi cư trú hiện tại",
    False,
    "Mã thôn, tổ dân phố hoặc xã, phường nơi đang ở (trước khi chuyển); cần khi không có số CCCD.",
)
TO_COLUMNS = [
    Column("new_unit_code", "Mã nơi cư trú mới", True, "Mã thôn, tổ dân phố hoặc xã, phường nơi chuyển đến."),
    Column("moved_on", "Ngày chuyển", True, "dd/mm/yyyy: ngày bắt đầu ở nơi mới (ví dụ ngày đơn vị mới có hiệu lực)."),
]
PEOPLE_COLUMNS = [
    Column("national_id", "Số CCCD", False, "12 chữ số. Không có: ghi họ tên, ngày sinh và mã nơi cư trú hiện tại."),
    Column("full_name", "Họ và tên", False, "Họ và tên như trong sổ (không phân biệt hoa thường, dấu)."),
    Column("birth_date", "Ngày sinh", False, "dd/mm/yyyy."),
    FROM_COLUMN,
    *TO_COLUMNS,
]
HOUSEHOLD_COLUMNS = [
    Column("household_name", "Tên hộ", True, "Tên hộ như trong sổ (không phân biệt hoa thường, dấu)."),
    Column("head_name", "Họ tên chủ hộ", False, "Chỉ cần khi hai hộ cùng tên ở cùng đơn vị."),
    Column(FROM_COLUMN.key, FROM_COLUMN.header, True, "Mã thôn, tổ dân phố hoặc xã, phường nơi hộ đang ở."),
    *TO_COLUMNS,
]
# The move service names `unit_code` and `since`; errors go to the file's columns.
FIELD_COLUMNS = {"unit_code": "new_unit_code", "since": "moved_on"}
GUIDE = (
    "Mỗi dòng là một lần chuyển, ghi như chuyển từng người trên trang (cùng các kiểm tra).",
    "Người (hộ) đã ở nơi mới từ ngày chuyển trở về trước được tính là “đã có”, không chuyển lại.",
)
_SEEN = "moves_seen"


def _day(row: Row, key: str, required: bool) -> date | None:
    text = iso_day(row.get(key) or "")
    if text is None:
        if required:
            raise RowError(key, "Cần ghi ngày (dd/mm/yyyy).", row)
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RowError(key, "Ngày không hợp lệ; viết dd/mm/yyyy.", row) from None


def _target(row: Row) -> MoveIn:
    """The row's new unit and day, checked by the API's own schema (code form, no future day)."""
    moved_on = _day(row, "moved_on", required=True)
    return MoveIn(unit_code=row.get("new_unit_code") or "", since=moved_on)


def _lived_in(context: Context, subject, code: str, on: date, subject_id: int | None = None):
    """SQL: the ids of subjects (`subject`: a Residence column) with a residence in or under a
    unit carrying `code` that is still open or was ended by a move on `on` (so a row applied
    before is found again), living today where the importer may see them. A day before they
    came is left to the move service to refuse, with its reason."""
    then, current = aliased(Residence), aliased(Residence)
    # Aliased: `registry.within` correlates its own UnitAncestor subquery.
    under = aliased(UnitAncestor)
    then_subject, current_subject = getattr(then, subject.key), getattr(current, subject.key)
    query = (
        select(then_subject)
        .join(under, under.unit_id == then.unit_id)
        .join(AdministrativeUnit, AdministrativeUnit.id == under.ancestor_id)
        .join(current, (current_subject == then_subject) & current.valid_to.is_(None))
        .where(
            AdministrativeUnit.code == code,
            or_(then.valid_to.is_(None), then.valid_to == on),
            registry.within(context.principal, current.unit_id),
        )
    )
    return query if subject_id is None else query.where(then_subject == subject_id)


def _known_code(context: Context, row: Row, code: str) -> None:
    session = context.session
    if not session.scalar(select(exists().where(AdministrativeUnit.code == code))):
        raise RowError("current_unit_code", f"Không có đơn vị hành chính mã {code}.", row)


def _person(context: Context, row: Row, on: date) -> Person:
    session = context.session
    number = row.get("national_id")
    code = (row.get("current_unit_code") or "").strip()
    if number:
        if number.isascii() and number.isdigit() and len(number) in (10, 11):
            number = number.zfill(12)  # a number cell that dropped leading zeros (see people.py)
        if not (number.isascii() and number.isdigit() and len(number) == 12):
            raise RowError("national_id", "Số CCCD phải có đúng 12 chữ số.", row)
        found = session.scalar(select(Person).where(Person.national_id_hmac.in_(context.ids.digests(number))))
        who = context.principal
        if found is None or registry.visible_subject_unit_or_none(session, who, TitleCode.CITIZEN, found.id) is None:
            raise RowError("national_id", "Không tìm thấy người có số CCCD này trong phạm vi quản lý.", row)
        name = row.get("full_name")
        if name and plain(name) != plain(found.full_name):
            raise RowError("full_name", "Họ tên khác với người có số CCCD này trong sổ; hãy kiểm tra số CCCD.", row)
        if code:
            _known_code(context, row, code)
            if session.scalar(_lived_in(context, Residence.person_id, code, on, found.id).limit(1)) is None:
                raise RowError("current_unit_code", f"Người này không cư trú tại đơn vị mã {code}.", row)
        return found
    name = row.get("full_name")
    born = _day(row, "birth_date", required=False)
    if not name or born is None or not code:
        reason = "Không có số CCCD: cần họ tên, ngày sinh và mã nơi cư trú hiện tại."
        missing = "full_name" if not name else "birth_date" if born is None else "current_unit_code"
        raise RowError(missing, reason, row)
    _known_code(context, row, code)
    ids = _lived_in(context, Residence.person_id, code, on).subquery()
    people = [
        person
        for person in session.scalars(select(Person).where(Person.id.in_(select(ids)), Person.birth_date == born))
        if plain(person.full_name) == plain(name)
    ]
    if not people:
        reason = f"Không tìm thấy người có họ tên và ngày sinh này ở đơn vị mã {code} trong phạm vi quản lý."
        raise RowError("full_name", reason, row)
    if len(people) > 1:
        reason = f"Có {len(people)} người cùng họ tên và ngày sinh ở đơn vị này; hãy ghi số CCCD."
        raise RowError("full_name", reason, row)
    return people[0]


def _household(context: Context, row: Row, on: date) -> Household:
    session = context.session
    name, head = row.get("household_name"), row.get("head_name")
    code = (row.get("current_unit_code") or "").strip()
    if not name:
        raise RowError("household_name", "Cần ghi tên hộ.", row)
    if not code:
        raise RowError("current_unit_code", "Cần ghi mã nơi hộ đang ở.", row)
    _known_code(context, row, code)
    ids = _lived_in(context, Residence.household_id, code, on).subquery()
    households = [
        household
        for household in session.scalars(select(Household).where(Household.id.in_(select(ids))))
        if plain(household.name) == plain(name)
    ]
    if head:
        heads = {
            person.id: person.full_name
            for person in session.scalars(
                select(Person).where(Person.id.in_([h.head_person_id for h in households if h.head_person_id]))
            )
        }
        households = [h for h in households if plain(heads.get(h.head_person_id, "")) == plain(head)]
    if not households:
        reason = f"Không tìm thấy hộ tên này ở đơn vị mã {code} trong phạm vi quản lý."
        raise RowError("head_name" if head else "household_name", reason, row)
    if len(households) > 1:
        reason = f"Có {len(households)} hộ cùng tên ở đơn vị này; hãy ghi họ tên chủ hộ."
        raise RowError("head_name" if not head else "household_name", reason, row)
    return households[0]


def _move(context: Context, row: Row, title: TitleCode, find) -> tuple[int, int]:
    target = _target(row)
    subject = find(context, row, target.since)
    seen: dict[tuple[str, int], int] = context.cache.setdefault(_SEEN, {})
    if (title, subject.id) in seen:
        reason = f"Đối tượng này đã được chuyển ở dòng {seen[(title, subject.id)]} của tệp."
        raise RowError(FROM_COLUMN.key, reason, row)
    session = context.session
    column = registry.TITLE_SUBJECT[title] + "_id"
    current = session.scalar(
        select(Residence).where(getattr(Residence, column) == subject.id, Residence.valid_to.is_(None))
    )
    there = units_by_codes(session, [target.unit_code], target.since).get(target.unit_code)
    if current is not None and there is not None and current.unit_id == there.id and current.valid_from <= target.since:
        seen[(title, subject.id)] = row.number
        return 0, 1  # already living there from that day: the row was applied before
    try:
        registry.move(session, context.principal, title, subject.id, target.unit_code, target.since)
    except Problem as refused:
        if refused.errors:
            raise
        # A refusal naming no field (already there from a later day, not allowed to write there).
        raise RowError("new_unit_code", refused.detail, row) from None
    seen[(title, subject.id)] = row.number  # a row that failed does not hide a later one's own error
    return 1, 0


def apply_people(context: Context, rows: list[Row]) -> tuple[int, int]:
    return _move(context, rows[0], TitleCode.CITIZEN, _person)


def apply_households(context: Context, rows: list[Row]) -> tuple[int, int]:
    return _move(context, rows[0], TitleCode.FAMILY, _household)


KIND = Kind(
    key="moves",
    label="Chuyển nơi cư trú của người (tách, nhập đơn vị)",
    columns=PEOPLE_COLUMNS,
    example=[["001085012345", "Nguyễn Văn An", "02/03/1985", "00367-001", "00367-002", "01/07/2025"]],
    apply=apply_people,
    field_columns=FIELD_COLUMNS,
    guide=GUIDE,
)
HOUSEHOLD_KIND = Kind(
    key="household_moves",
    label="Chuyển nơi cư trú của hộ gia đình",
    columns=HOUSEHOLD_COLUMNS,
    example=[["Hộ ông Nguyễn Văn An", "Nguyễn Văn An", "00367-001", "00367-002", "01/07/2025"]],
    apply=apply_households,
    field_columns=FIELD_COLUMNS,
    guide=(*GUIDE, "Chuyển hộ chỉ chuyển nơi cư trú của hộ; từng người trong hộ chuyển bằng tệp chuyển người."),
)
