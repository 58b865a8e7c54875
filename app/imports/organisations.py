"""Importing organisations (cơ quan, đơn vị) and their staff: one row per staff member; the rows
sharing an organisation name and a unit code are one organisation, written through the
registry's services. A row without staff columns gives an organisation without staff.

Staff are found by CCCD among the people the importer may see, and never created here: where a
staff member lives is not the organisation's address, so they are imported as people first. An
organisation already in the registry (the same name, based in the same unit today) is matched
and only the staff it lacks are added; its kind, sector and level are left as they are."""

from __future__ import annotations

from datetime import date
from functools import partial

from sqlalchemy import select

from app.imports import registry_rows as rr
from app.imports.kinds import Context, Kind, Row, RowError
from app.imports.sheets import Column
from app.registry import service
from app.registry.models import ManagingLevel, Organisation, OrganisationKind, OrganisationStaff, Person
from app.registry.schemas import MemberIn, NationalIdSearch, OrganisationCreate
from app.text import plain
from app.units.models import AdministrativeUnit

KINDS = {
    "Cơ quan": OrganisationKind.AGENCY,
    "Trường học": OrganisationKind.SCHOOL,
    "Doanh nghiệp": OrganisationKind.ENTERPRISE,
    "Hợp tác xã": OrganisationKind.COOPERATIVE,
    "Đơn vị lực lượng vũ trang": OrganisationKind.ARMED_FORCES,
    "Cơ sở y tế": OrganisationKind.HEALTH,
    "Hội, đoàn thể": OrganisationKind.ASSOCIATION,
    "Khác": OrganisationKind.OTHER,
    # Shorter ways of writing them.
    "Trường": OrganisationKind.SCHOOL,
    "Cơ sở giáo dục": OrganisationKind.SCHOOL,
    "Lực lượng vũ trang": OrganisationKind.ARMED_FORCES,
    "Y tế": OrganisationKind.HEALTH,
    "Hội": OrganisationKind.ASSOCIATION,
    "Đoàn thể": OrganisationKind.ASSOCIATION,
}
LEVELS = {
    "Cấp xã": ManagingLevel.COMMUNE,
    "Cấp huyện": ManagingLevel.DISTRICT,
    "Cấp tỉnh": ManagingLevel.PROVINCE,
    "Trung ương": ManagingLevel.CENTRAL,
    "Xã": ManagingLevel.COMMUNE,
    "Phường": ManagingLevel.COMMUNE,
    "Huyện": ManagingLevel.DISTRICT,
    "Tỉnh": ManagingLevel.PROVINCE,
}
# The statistics follow one sector (education: trường học, cơ sở giáo dục).
SECTORS = {"Giáo dục": "education"}

COLUMNS = [
    Column(
        "organisation_name",
        "Tên cơ quan, đơn vị",
        True,
        "Các dòng cùng tên và cùng mã nơi đặt trụ sở là một cơ quan, đơn vị; cơ quan đã có trong sổ (cùng tên, "
        "cùng nơi) không bị tạo lại.",
    ),
    Column("kind", "Loại hình", True, f"Một trong: {rr.choices_text(KINDS)}."),
    Column("sector", "Ngành", False, f"{rr.choices_text(SECTORS)}, hoặc bỏ trống."),
    Column("managing_level", "Cấp quản lý", False, f"Một trong: {rr.choices_text(LEVELS)}; bỏ trống là Cấp xã."),
    Column(
        "unit_code",
        "Mã nơi đặt trụ sở",
        True,
        "Mã thôn, tổ dân phố hoặc xã, phường (ví dụ 00367), hiểu theo ngày của tệp.",
    ),
    Column(
        "since",
        "Đặt trụ sở từ ngày",
        False,
        "dd/mm/yyyy; bỏ trống là ngày của tệp. Loại hình, ngành, cấp quản lý và ngày ghi ở một dòng của cơ quan "
        "(các dòng khác để trống hoặc ghi giống).",
    ),
    Column(
        "full_name",
        "Họ và tên cán bộ, người lao động",
        False,
        "Để kiểm tra số CCCD; bỏ trống cả dòng cán bộ nếu chưa có.",
    ),
    Column(
        "national_id",
        "Số CCCD",
        False,
        "12 chữ số; bắt buộc với mỗi cán bộ. Người phải đã có trong sổ, trong phạm vi quản lý của tài khoản "
        "(nhập công dân trước, theo mẫu Công dân).",
    ),
    Column("joined_on", "Vào làm từ ngày", False, "dd/mm/yyyy; bỏ trống là ngày đặt trụ sở (hoặc ngày sinh, nếu sau)."),
]
EXAMPLE = [
    [
        "Trường Tiểu học Thanh Xuân",
        "Trường học",
        "Giáo dục",
        "Cấp xã",
        "00367",
        "01/07/2025",
        "Nguyễn Văn An",
        "001085012345",
        "",
    ],
    ["Trường Tiểu học Thanh Xuân", "", "", "", "00367", "", "Trần Thị Bình", "001187054321", ""],
]
GUIDE = (
    "Mỗi dòng là một cán bộ, người lao động; các dòng cùng “Tên cơ quan, đơn vị” và “Mã nơi đặt trụ sở” là một "
    "cơ quan. Một dòng không có cán bộ (để trống họ tên và số CCCD) ghi cơ quan chưa có cán bộ.",
    "Cán bộ được tìm theo số CCCD và phải đã có trong sổ. Cơ quan đã có trong sổ không bị tạo lại: chỉ những cán "
    "bộ chưa có được thêm vào; loại hình, ngành, cấp quản lý không đổi. Nhập lại cùng danh sách không tạo thêm gì.",
)
# The API's fields (of OrganisationCreate, MemberIn, NationalIdSearch) → the column holding each.
FIELDS = {
    "name": "organisation_name",
    "kind": "kind",
    "sector": "sector",
    "managing_level": "managing_level",
    "unit_code": "unit_code",
    "since": "since",
    "staff": "national_id",
    "person_id": "national_id",
    "national_id": "national_id",
    "joined_on": "joined_on",
}
STAFF_CODES = {"already_member": "national_id", "forbidden": "unit_code"}
NOT_FOUND = "Không có người có số CCCD này trong phạm vi quản lý của tài khoản; hãy nhập công dân trước (mẫu Công dân)."


def record_key(row: Row) -> tuple[str, str]:
    return rr.name_key(row.get("organisation_name")), (row.get("unit_code") or "").strip()


def _unit(context: Context, first: Row, data: OrganisationCreate, since_row: Row) -> AdministrativeUnit:
    found = rr.unit(context, "unit_code", first)
    rr.same_unit_on(context, found, data.since, "since", since_row)
    return found


def _organisation(
    context: Context, rows: list[Row], errors: rr.Errors
) -> tuple[OrganisationCreate | None, dict[str, Row]]:
    """The organisation's own columns, checked (None when one is wrong, noted), and the row each
    came from."""
    first = rows[0]
    same = {"kind": plain, "sector": plain, "managing_level": plain, "since": rr.day}
    values, sources = rr.record_values(rows, same, "cơ quan", errors)
    before = len(errors.found)
    picked = {}
    for key, choices in (("kind", KINDS), ("sector", SECTORS), ("managing_level", LEVELS)):
        source = sources[key]
        picked[key] = errors.check(partial(rr.choice, source, key, choices), source, FIELDS, key)
    if values["kind"] is None:
        errors.add(RowError("kind", f"Trường này là bắt buộc: một trong {rr.choices_text(KINDS)}.", first))
    data = errors.check(
        lambda: OrganisationCreate(
            name=first.get("organisation_name") or "",
            kind=picked["kind"] or OrganisationKind.OTHER,  # a missing kind is said above
            sector=picked["sector"],
            managing_level=picked["managing_level"] or ManagingLevel.COMMUNE,
            unit_code=first.get("unit_code") or "",
            since=rr.day(values["since"]),
        ),
        first,
        FIELDS,
        "organisation_name",
        sources=sources,
    )
    if data is None or len(errors.found) > before:
        return None, sources
    if errors.check(partial(_unit, context, first, data, sources["since"]), first, FIELDS, "unit_code") is None:
        return None, sources
    return data, sources


def _staff(context: Context, row: Row) -> Person:
    number = rr.national_id(row)
    if number is None:
        raise RowError("national_id", "Cần số CCCD để tìm người này trong sổ.", row)
    NationalIdSearch(national_id=number)  # the API's rule for a CCCD (12 digits)
    full_name = row.get("full_name")
    found = rr.person_by_national_id(context, row, number, full_name, outside=NOT_FOUND)
    if found is None:
        raise RowError("national_id", NOT_FOUND, row)
    return found


def apply(context: Context, rows: list[Row]) -> tuple[int, int]:
    session, principal, first = context.session, context.principal, rows[0]
    errors = rr.Errors(context)
    data, sources = _organisation(context, rows, errors)
    since: date = (data.since if data else None) or context.on_day
    staff: list[tuple[Row, MemberIn]] = []
    seen: dict[int, Row] = {}
    matched = 0
    for row in rows:
        if not (row.get("full_name") or row.get("national_id") or row.get("joined_on")):
            continue  # a row of the organisation alone
        before = len(errors.found)
        member = errors.check(
            partial(MemberIn, person_id=rr.STAND_IN_ID, joined_on=rr.day(row.get("joined_on"))),
            row,
            FIELDS,
            "national_id",
        )
        person = errors.check(partial(_staff, context, row), row, FIELDS, "national_id")
        if len(errors.found) > before or member is None or person is None:
            continue
        if person.id in seen:
            errors.add(
                RowError("national_id", f"Người này đã ghi ở dòng {seen[person.id].number} của cùng cơ quan.", row)
            )
            continue
        seen[person.id] = row
        matched += 1
        joined = rr.joined_day(member.joined_on, since, person.birth_date)
        staff.append((row, member.model_copy(update={"person_id": person.id, "joined_on": joined})))
    errors.raise_any()
    if data is None:  # its refusal was noted, and raised just now
        return 0, 0
    where = rr.unit(context, "unit_code", first)
    known = rr.named(context, "organisation", where, data.name, "organisation_name", first)
    organisation = session.get(Organisation, known) if known is not None else None
    created = 0
    if organisation is None:
        # Created without staff, then each added on its own, so a refusal names its row.
        ok, organisation = errors.write(
            partial(service.create_organisation, session, principal, data.model_copy(update={"since": since})),
            first,
            FIELDS,
            "organisation_name",
            codes={"forbidden": "unit_code"},
            sources=sources,
        )
        errors.raise_any()
        created, current, adding = 1, set(), False
    else:
        matched += 1
        current = set(
            session.scalars(
                select(OrganisationStaff.person_id).where(
                    OrganisationStaff.organisation_id == organisation.id, OrganisationStaff.left_on.is_(None)
                )
            )
        )
        adding = True  # staff joining an organisation already there are what this file adds to it
    for row, member in staff:
        if member.person_id in current:
            continue
        ok, _ = errors.write(
            partial(service.add_staff, session, principal, organisation, member),
            row,
            FIELDS,
            "national_id",
            codes=STAFF_CODES,
        )
        if ok and adding:
            created += 1
    errors.raise_any()
    return created, matched


KIND = Kind(
    key="organisations",
    label="Cơ quan, đơn vị và cán bộ",
    columns=COLUMNS,
    example=EXAMPLE,
    apply=apply,
    record_key=record_key,
    field_columns=FIELDS,
    guide=GUIDE,
)
