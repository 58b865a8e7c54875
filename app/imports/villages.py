"""Importing villages (thôn, tổ dân phố) of communes, one a row, through the units service: the
commune names its new villages' codes itself (`<commune>-001`, …). A village of the same name
(accents, case and spaces aside, as the service compares them) already in force in that commune
is matched, not created, so uploading a list again creates nothing. Like the API, only
administrators and the commune's officers may add villages."""

from __future__ import annotations

from functools import partial

from sqlalchemy import select

from app.auth.models import Role
from app.imports import registry_rows as rr
from app.imports.kinds import Context, Kind, Row, RowError
from app.imports.sheets import Column
from app.text import plain
from app.units.models import AdministrativeUnit, UnitLevel, VillageType
from app.units.schemas import VillageCreate
from app.units.service import create_villages, require_unit_writer

TYPES = {
    "Thôn": VillageType.THON,
    "Bản": VillageType.BAN,
    "Ấp": VillageType.AP,
    "Tổ dân phố": VillageType.TO_DAN_PHO,
    "Khu phố": VillageType.KHU_PHO,
    "Xóm": VillageType.XOM,
    "Buôn": VillageType.BUON,
    "Phum, sóc": VillageType.PHUM,
    "Phum": VillageType.PHUM,
    "Sóc": VillageType.PHUM,
}
COLUMNS = [
    Column(
        "commune_code",
        "Mã xã, phường",
        True,
        "Mã xã, phường có thôn, tổ dân phố (ví dụ 00367), hiểu theo ngày của tệp.",
    ),
    Column(
        "name",
        "Tên thôn, tổ dân phố",
        True,
        "Ví dụ Tổ dân phố số 5; thôn, tổ dân phố cùng tên đã có ở xã, phường đó không bị tạo lại.",
    ),
    Column("unit_type", "Loại", True, f"Một trong: {rr.choices_text(TYPES)}."),
    Column(
        "valid_from",
        "Có từ ngày",
        False,
        "dd/mm/yyyy; bỏ trống là ngày của tệp; không sớm hơn ngày thành lập xã, phường.",
    ),
]
EXAMPLE = [
    ["00367", "Tổ dân phố số 5", "Tổ dân phố", "01/07/2025"],
    ["00367", "Tổ dân phố số 6", "Tổ dân phố", "01/07/2025"],
]
GUIDE = (
    "Mỗi dòng là một thôn, tổ dân phố. Mã của thôn, tổ dân phố mới do hệ thống đặt (mã xã, phường-001, -002…); "
    "xem mã tại trang đơn vị hành chính trước khi nhập hộ gia đình.",
    "Thôn, tổ dân phố cùng tên đã có ở xã, phường đó không bị tạo lại (nhập lại cùng danh sách không tạo thêm gì).",
)
# VillageCreate's fields are the columns' own keys.
FIELDS = {"name": "name", "unit_type": "unit_type", "valid_from": "valid_from"}


def record_key(row: Row) -> tuple[str, str]:
    return (row.get("commune_code") or "").strip(), plain(row.get("name") or "")


def _village(row: Row, unit_type: str | None) -> VillageCreate:
    return VillageCreate(name=row.get("name") or "", unit_type=unit_type, valid_from=rr.day(row.get("valid_from")))


def _existing(context: Context, commune: AdministrativeUnit, name: str) -> int | None:
    return context.session.scalar(
        select(AdministrativeUnit.id).where(
            AdministrativeUnit.parent_id == commune.id,
            AdministrativeUnit.level == UnitLevel.VILLAGE,
            AdministrativeUnit.valid_to.is_(None),
            AdministrativeUnit.search_name == plain(name),
        )
    )


def apply(context: Context, rows: list[Row]) -> tuple[int, int]:
    row = rows[0]
    errors = rr.Errors(context)
    for again in rows[1:]:  # the same village twice in one file is a slip, not two villages
        errors.add(RowError("name", f"Thôn, tổ dân phố này đã ghi ở dòng {row.number}.", again))
    before = len(errors.found)
    unit_type = errors.check(partial(rr.choice, row, "unit_type", TYPES), row, FIELDS, "unit_type")
    if not row.get("unit_type"):
        errors.add(RowError("unit_type", f"Trường này là bắt buộc: một trong {rr.choices_text(TYPES)}.", row))
    village = errors.check(
        partial(_village, row, unit_type or VillageType.THON),  # a missing type is said above
        row,
        FIELDS,
        "name",
    )
    commune = errors.check(partial(rr.unit, context, "commune_code", row), row, FIELDS, "commune_code")
    errors.raise_any()
    if village is None or commune is None or len(errors.found) > before:  # noted, and raised just now
        return 0, 0
    if _existing(context, commune, village.name) is not None:
        return 0, 1
    body = village if village.valid_from else village.model_copy(update={"valid_from": context.on_day})
    errors.write(
        partial(_create, context, commune, body),
        row,
        FIELDS,
        "commune_code",  # what the service refuses without naming a field is about the commune
    )
    errors.raise_any()
    return 1, 0


def _create(context: Context, commune: AdministrativeUnit, village: VillageCreate) -> None:
    require_unit_writer(context.session, context.principal, commune)  # the API's rule for villages
    create_villages(context.session, commune, [village], context.principal)


KIND = Kind(
    key="villages",
    label="Thôn, tổ dân phố",
    columns=COLUMNS,
    example=EXAMPLE,
    apply=apply,
    record_key=record_key,
    field_columns=FIELDS,
    guide=GUIDE,
    roles=(Role.ADMIN, Role.COMMUNE_OFFICER),
)
