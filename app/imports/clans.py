"""Importing clans (dòng họ) and their households: one row per member household; the rows sharing
a clan name and a home commune code are one clan, written through the registry's services.

A household is named as the registry knows it: its name and the code of the unit it lives in (the
households are imported first). A clan already in the registry (the same name, the same home
commune) is matched and only the households it lacks are added."""

from __future__ import annotations

from functools import partial

from sqlalchemy import select

from app.imports import registry_rows as rr
from app.imports.kinds import Context, Kind, Row, RowError
from app.imports.sheets import Column
from app.registry import service
from app.registry.models import Clan, ClanHousehold
from app.registry.schemas import ClanCreate, HouseholdJoin
from app.text import clean_name
from app.units.models import AdministrativeUnit

COLUMNS = [
    Column(
        "clan_name",
        "Tên dòng họ",
        True,
        "Ví dụ Dòng họ Nguyễn Văn. Các dòng cùng tên dòng họ và cùng mã xã, phường là một dòng họ; dòng họ đã có "
        "trong sổ (cùng tên, cùng xã, phường) không bị tạo lại.",
    ),
    Column(
        "commune_code",
        "Mã xã, phường của dòng họ",
        True,
        "Mã xã, phường nơi dòng họ được ghi (ví dụ 00367), hiểu theo ngày của tệp.",
    ),
    Column(
        "since",
        "Dòng họ ghi từ ngày",
        False,
        "dd/mm/yyyy; bỏ trống là ngày của tệp. Ghi ở một dòng của dòng họ (các dòng khác để trống hoặc ghi giống).",
    ),
    Column("household_name", "Tên hộ", True, "Tên hộ như đã có trong sổ (nhập hộ trước, theo mẫu Hộ gia đình)."),
    Column(
        "household_unit_code",
        "Mã nơi cư trú của hộ",
        True,
        "Mã thôn, tổ dân phố hoặc xã, phường nơi hộ đang cư trú (ví dụ 00367-001).",
    ),
    Column("joined_on", "Vào dòng họ từ ngày", False, "dd/mm/yyyy; bỏ trống là ngày ghi dòng họ."),
]
EXAMPLE = [
    ["Dòng họ Nguyễn Văn", "00367", "01/07/2025", "Hộ ông Nguyễn Văn An", "00367-001", ""],
    ["Dòng họ Nguyễn Văn", "00367", "", "Hộ ông Nguyễn Văn Bình", "00367-002", ""],
]
GUIDE = (
    "Mỗi dòng là một hộ của dòng họ; các dòng cùng “Tên dòng họ” và “Mã xã, phường của dòng họ” là một dòng họ.",
    "Hộ phải đã có trong sổ: tìm theo tên hộ và mã nơi cư trú của hộ. Dòng họ đã có trong sổ không bị tạo lại: "
    "chỉ những hộ chưa thuộc dòng họ được thêm vào. Nhập lại cùng danh sách không tạo thêm gì.",
)
# The API's fields (of ClanCreate, HouseholdJoin) → the column holding each.
FIELDS = {
    "name": "clan_name",
    "home_commune_code": "commune_code",
    "since": "since",
    "household_ids": "household_name",
    "household_id": "household_name",
    "joined_on": "joined_on",
}
HOUSEHOLD_CODES = {"already_member": "household_name", "forbidden": "commune_code"}


def record_key(row: Row) -> tuple[str, str]:
    return rr.name_key(row.get("clan_name")), (row.get("commune_code") or "").strip()


def _commune(context: Context, first: Row, data: ClanCreate, since_row: Row) -> AdministrativeUnit:
    found = rr.unit(context, "commune_code", first)
    rr.same_unit_on(context, found, data.since, "since", since_row)
    return found


def _household(context: Context, row: Row) -> int:
    """The id of the household the row names (by name and the unit it lives in)."""
    name = clean_name(row.get("household_name") or "")
    if not name:
        raise RowError("household_name", "Trường này là bắt buộc.", row)
    where = rr.unit(context, "household_unit_code", row)
    found = rr.named(context, "household", where, name, "household_name", row)
    if found is None:
        raise RowError(
            "household_name", f"Không có hộ tên “{name}” ở {where.name}; hãy nhập hộ trước (mẫu Hộ gia đình).", row
        )
    return found


def apply(context: Context, rows: list[Row]) -> tuple[int, int]:
    session, principal, first = context.session, context.principal, rows[0]
    errors = rr.Errors(context)
    values, sources = rr.record_values(rows, {"since": rr.day}, "dòng họ", errors)
    data = errors.check(
        lambda: ClanCreate(
            name=first.get("clan_name") or "",
            home_commune_code=first.get("commune_code") or "",
            since=rr.day(values["since"]),
        ),
        first,
        FIELDS,
        "clan_name",
        sources=sources,
    )
    commune = None
    if data is not None:
        commune = errors.check(partial(_commune, context, first, data, sources["since"]), first, FIELDS, "commune_code")
    since = (data.since if data else None) or context.on_day
    joining: list[tuple[Row, int, HouseholdJoin]] = []
    seen: dict[int, Row] = {}
    for row in rows:
        before = len(errors.found)
        join = errors.check(
            partial(HouseholdJoin, household_id=rr.STAND_IN_ID, joined_on=rr.day(row.get("joined_on"))),
            row,
            FIELDS,
            "household_name",
        )
        household_id = errors.check(partial(_household, context, row), row, FIELDS, "household_name")
        if len(errors.found) > before or join is None or household_id is None:
            continue
        if household_id in seen:
            reason = f"Hộ này đã ghi ở dòng {seen[household_id].number} của cùng dòng họ."
            errors.add(RowError("household_name", reason, row))
            continue
        seen[household_id] = row
        joining.append((row, household_id, join))
    errors.raise_any()
    if data is None or commune is None:  # each refusal of those was noted, and raised just now
        return 0, 0
    known = rr.named(context, "clan", commune, data.name, "clan_name", first)
    clan = session.get(Clan, known) if known is not None else None
    created = matched = 0
    if clan is None:
        # Created without households, then each added on its own, so a refusal names its row.
        ok, clan = errors.write(
            partial(service.create_clan, session, principal, data.model_copy(update={"since": since})),
            first,
            FIELDS,
            "clan_name",
            codes={"forbidden": "commune_code"},
            sources=sources,
        )
        errors.raise_any()
        created, current, adding = 1, set(), False
    else:
        matched = 1
        current = set(
            session.scalars(
                select(ClanHousehold.household_id).where(
                    ClanHousehold.clan_id == clan.id, ClanHousehold.left_on.is_(None)
                )
            )
        )
        adding = True  # households joining a clan already there are what this file adds to it
    for row, household_id, join in joining:
        if household_id in current:
            continue
        ok, _ = errors.write(
            partial(service.add_clan_household, session, principal, clan, household_id, join.joined_on or since),
            row,
            FIELDS,
            "household_name",
            codes=HOUSEHOLD_CODES,
        )
        if ok and adding:
            created += 1
    errors.raise_any()
    return created, matched


KIND = Kind(
    key="clans",
    label="Dòng họ và các hộ",
    columns=COLUMNS,
    example=EXAMPLE,
    apply=apply,
    record_key=record_key,
    field_columns=FIELDS,
    guide=GUIDE,
)
