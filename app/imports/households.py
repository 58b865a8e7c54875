"""Importing households (hộ gia đình) and their members: one row per member; the rows sharing a
household name and a unit code are one household, written through the registry's services.

A household already in the registry (the same name, living in the same unit today) is matched and
only its missing members are added; its head is left as it is. A member is found by CCCD, or
without one by name and birth date among the people living in the household's unit. A member not
yet in the registry is created (create_person), living in the household's unit from the day they
joined it: a family sheet lists people nobody has registered yet, and the household's unit is
where they live."""

from __future__ import annotations

from datetime import date
from functools import partial

from sqlalchemy import select

from app.imports import registry_rows as rr
from app.imports.kinds import Context, Kind, Row, RowError
from app.imports.sheets import Column
from app.registry import service
from app.registry.models import Household, HouseholdMember, Person
from app.registry.schemas import HouseholdCreate, MemberIn, PersonCreate
from app.text import plain
from app.units.models import AdministrativeUnit

SEXES = {"Nam": "male", "Nữ": "female"}
HEAD = "Chủ hộ"

COLUMNS = [
    Column(
        "household_name",
        "Tên hộ",
        True,
        "Ví dụ Hộ ông Nguyễn Văn An. Các dòng cùng tên hộ và cùng mã nơi cư trú là một hộ; hộ đã có trong sổ "
        "(cùng tên, đang cư trú cùng nơi) không bị tạo lại.",
    ),
    Column(
        "unit_code",
        "Mã nơi cư trú của hộ",
        True,
        "Mã thôn, tổ dân phố (ví dụ 00367-001) hoặc mã xã, phường, hiểu theo ngày của tệp.",
    ),
    Column(
        "since",
        "Hộ cư trú từ ngày",
        False,
        "dd/mm/yyyy; bỏ trống là ngày của tệp. Ghi ở một dòng của hộ (các dòng khác để trống hoặc ghi giống).",
    ),
    Column("full_name", "Họ và tên thành viên", True, "Họ và tên đầy đủ, có dấu."),
    Column("birth_date", "Ngày sinh", False, "dd/mm/yyyy, ví dụ 05/04/1990."),
    Column("sex", "Giới tính", False, "Nam hoặc Nữ."),
    Column(
        "national_id",
        "Số CCCD",
        False,
        "12 chữ số. Người đã có trong sổ được tìm theo số CCCD (không có số: theo họ tên và ngày sinh ở nơi cư "
        "trú của hộ); người chưa có được ghi mới vào sổ, cư trú tại nơi cư trú của hộ.",
    ),
    Column(
        "relation",
        "Quan hệ với chủ hộ",
        False,
        f"“{HEAD}” cho một người của hộ; người khác: Vợ, Chồng, Con, Cháu… (tối đa 32 ký tự).",
    ),
    Column(
        "joined_on",
        "Vào hộ từ ngày",
        False,
        "dd/mm/yyyy; bỏ trống là ngày hộ cư trú (hoặc ngày sinh, với người sinh sau ngày đó).",
    ),
]
EXAMPLE = [
    ["Hộ ông Nguyễn Văn An", "00367-001", "01/07/2025", "Nguyễn Văn An", "02/03/1985", "Nam", "001085012345", HEAD, ""],
    ["Hộ ông Nguyễn Văn An", "00367-001", "", "Trần Thị Bình", "15/08/1987", "Nữ", "", "Vợ", ""],
    ["Hộ ông Nguyễn Văn An", "00367-001", "", "Nguyễn Minh Khôi", "20/10/2016", "Nam", "", "Con", ""],
]
GUIDE = (
    "Mỗi dòng là một thành viên; các dòng cùng “Tên hộ” và “Mã nơi cư trú của hộ” là một hộ.",
    "Hộ đã có trong sổ (cùng tên, đang cư trú cùng nơi) không bị tạo lại: chỉ những thành viên chưa có được "
    "thêm vào; chủ hộ của hộ đã có không đổi.",
    "Người chưa có trong sổ được ghi mới, cư trú tại nơi cư trú của hộ từ ngày vào hộ. Nhập lại cùng danh sách "
    "không tạo thêm gì.",
)
# The API's fields (of HouseholdCreate, MemberIn, PersonCreate) → the column holding each.
FIELDS = {
    "name": "household_name",
    "unit_code": "unit_code",
    "since": "since",
    "head_person_id": "relation",
    "members": "full_name",
    "person_id": "full_name",
    "full_name": "full_name",
    "birth_date": "birth_date",
    "sex": "sex",
    "national_id": "national_id",
    "relation": "relation",
    "joined_on": "joined_on",
    "resident_since": "joined_on",  # a new member lives in the household's unit from joining it
}
# What a service refuses without naming a field, by its code → the column it is about.
CODES = {"already_member": "full_name", "national_id_taken": "national_id", "forbidden": "unit_code"}


class _NoAnswersToLimit:
    """create_person's guard around its CCCD look-up. The import has looked the number up itself
    first (a person found is matched, never refused as a duplicate), so there is no answer here
    for the API's per-account limit to count."""

    def before_lookup(self) -> None:
        return None

    def found(self, person_id: int) -> None:
        return None


def record_key(row: Row) -> tuple[str, str]:
    return rr.name_key(row.get("household_name")), (row.get("unit_code") or "").strip()


def _household_unit(context: Context, first: Row, data: HouseholdCreate, since_row: Row) -> AdministrativeUnit:
    found = rr.unit(context, "unit_code", first)
    rr.same_unit_on(context, found, data.since, "since", since_row)
    return found


def _member(
    context: Context, row: Row, data: PersonCreate, member: MemberIn, since: date, where: AdministrativeUnit
) -> tuple[Person, bool]:
    """The member's person, found or created: (person, created)."""
    if data.national_id is not None:
        number = data.national_id.get_secret_value()
        found = rr.person_by_national_id(context, row, number, data.full_name, data.birth_date)
    else:
        found = rr.person_by_name(context, row, data.full_name, data.birth_date, where)
    if found is not None:
        return found, False
    joined = rr.joined_day(member.joined_on, since, data.birth_date)
    rr.same_unit_on(context, where, joined, "joined_on", row)
    person = service.create_person(
        context.session,
        context.principal,
        context.ids,
        data.model_copy(update={"resident_since": joined}),
        _NoAnswersToLimit(),
    )
    return person, True


def apply(context: Context, rows: list[Row]) -> tuple[int, int]:
    session, principal, first = context.session, context.principal, rows[0]
    errors = rr.Errors(context)
    # The household: its name, unit and day, checked before any member is looked at.
    values, sources = rr.record_values(rows, {"since": rr.day}, "hộ", errors)
    data = errors.check(
        lambda: HouseholdCreate(
            name=first.get("household_name") or "",
            unit_code=first.get("unit_code") or "",
            since=rr.day(values["since"]),
        ),
        first,
        FIELDS,
        "household_name",
        sources=sources,
    )
    where = None
    if data is not None:
        where = errors.check(
            partial(_household_unit, context, first, data, sources["since"]), first, FIELDS, "unit_code"
        )
    since = (data.since if data else None) or context.on_day
    # Every member row's own fields, all checked, so one run names every wrong cell.
    checked: list[tuple[Row, PersonCreate, MemberIn]] = []
    for row in rows:
        before = len(errors.found)
        sex = errors.check(partial(rr.choice, row, "sex", SEXES), row, FIELDS, "sex")
        person = errors.check(
            partial(
                PersonCreate,
                full_name=row.get("full_name") or "",
                birth_date=rr.day(row.get("birth_date")),
                sex=sex,
                national_id=rr.national_id(row),
                unit_code=first.get("unit_code") or "",
            ),
            row,
            FIELDS,
            "full_name",
            ignore=("unit_code",),  # said once, for the household
        )
        member = errors.check(
            partial(
                MemberIn, person_id=rr.STAND_IN_ID, relation=row.get("relation"), joined_on=rr.day(row.get("joined_on"))
            ),
            row,
            FIELDS,
            "full_name",
        )
        if len(errors.found) == before and person is not None and member is not None:
            checked.append((row, person, member))
    errors.raise_any()
    if data is None or where is None:  # each refusal of those was noted, and raised just now
        return 0, 0
    known = rr.named(context, "household", where, data.name, "household_name", first)
    household = session.get(Household, known) if known is not None else None
    created = matched = 0
    members: list[tuple[Row, MemberIn]] = []
    seen: dict[int, Row] = {}
    for row, person, member in checked:
        ok, found = errors.write(
            partial(_member, context, row, person, member, since, where), row, FIELDS, "full_name", codes=CODES
        )
        if not ok or found is None:
            continue
        someone, new = found
        if someone.id in seen:
            errors.add(RowError("full_name", f"Người này đã ghi ở dòng {seen[someone.id].number} của cùng hộ.", row))
            continue
        seen[someone.id] = row
        if new:
            created += 1
        else:
            matched += 1
        joined = rr.joined_day(member.joined_on, since, someone.birth_date)
        members.append((row, member.model_copy(update={"person_id": someone.id, "joined_on": joined})))
    heads = [(row, member) for row, member in members if plain(member.relation or "") == plain(HEAD)]
    for row, _ in heads[1:]:
        errors.add(RowError("relation", f"Mỗi hộ một chủ hộ; đã ghi ở dòng {heads[0][0].number}.", row))
    errors.raise_any()
    if household is None:
        # Created with its head (the service wants the head among the members), then each other
        # member added on its own, so a refusal names that member's row.
        head_row, head = heads[0] if heads else (first, None)
        body = data.model_copy(
            update={
                "since": since,
                "head_person_id": head.person_id if head else None,
                "members": [head] if head else [],
            }
        )
        ok, household = errors.write(
            partial(service.create_household, session, principal, body),
            head_row,
            FIELDS,
            "household_name",
            codes=CODES,
            sources={"household_name": first, "unit_code": first, "since": sources["since"]},
        )
        errors.raise_any()
        created += 1
        current = {head.person_id} if head else set()
        adding = False
    else:
        matched += 1
        current = set(
            session.scalars(
                select(HouseholdMember.person_id).where(
                    HouseholdMember.household_id == household.id, HouseholdMember.left_on.is_(None)
                )
            )
        )
        adding = True  # members joining a household already there are what this file adds to it
    for row, member in members:
        if member.person_id in current:
            continue
        ok, _ = errors.write(
            partial(service.add_household_member, session, principal, household, member),
            row,
            FIELDS,
            "full_name",
            codes=CODES,
        )
        if ok and adding:
            created += 1
    errors.raise_any()
    return created, matched


KIND = Kind(
    key="households",
    label="Hộ gia đình và thành viên",
    columns=COLUMNS,
    example=EXAMPLE,
    apply=apply,
    record_key=record_key,
    field_columns=FIELDS,
    guide=GUIDE,
)
