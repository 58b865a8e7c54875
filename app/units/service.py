"""Service functions for administrative units: resolution by code and date, search, detail
with successions, villages, and jurisdiction checks."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from pydantic import ValidationError
from sqlalchemy import func, insert, or_, select
from sqlalchemy.orm import Session, aliased

from app import clock
from app.audit.service import record as audit
from app.audit.service import snapshot
from app.auth.models import Role
from app.auth.principal import Principal
from app.exceptions import Conflict, FieldError, Forbidden, NotFound, Problem, field_errors, invalid_field
from app.registry.models import Residence
from app.text import forbidden_character, plain
from app.units.models import AdministrativeUnit, UnitAncestor, UnitLevel, UnitSuccession
from app.units.schemas import (
    SuccessionLink,
    UnitDetail,
    UnitSummary,
    VillageCreate,
    VillageUpdate,
)

MAX_IMPORT_ROWS = 2000


def in_force_on(as_of: date, unit=AdministrativeUnit):
    """SQL condition: the unit exists on `as_of` (valid_from ≤ as_of < valid_to)."""
    return (
        or_(unit.valid_from.is_(None), unit.valid_from <= as_of),
        or_(unit.valid_to.is_(None), unit.valid_to > as_of),
    )


def units_by_codes(session: Session, codes: list[str], as_of: date) -> dict[str, AdministrativeUnit]:
    """The units carrying these official codes on `as_of`, keyed by code (missing codes absent)."""
    if not codes:
        return {}
    rows = session.scalars(select(AdministrativeUnit).where(AdministrativeUnit.code.in_(codes), *in_force_on(as_of)))
    return {unit.code: unit for unit in rows}


def get_unit(session: Session, code: str, as_of: date) -> AdministrativeUnit:
    unit = units_by_codes(session, [code], as_of).get(code)
    if unit is None:
        raise NotFound(f"Không có đơn vị hành chính mã {code} vào ngày {as_of:%d/%m/%Y}.")
    return unit


def _span(unit: AdministrativeUnit) -> str:
    start = f"từ {unit.valid_from:%d/%m/%Y}" if unit.valid_from else ""
    end = f"đến hết {unit.valid_to - timedelta(days=1):%d/%m/%Y}" if unit.valid_to else "đến nay"
    return " ".join(part for part in (start, end) if part)


def code_meanings(session: Session, code: str) -> str:
    """What a code has named over time, in words ("Phường Thanh Xuân Bắc (… đến hết 30/06/2025);
    Phường Thanh Xuân (từ 01/07/2025 đến nay)")."""
    units = session.scalars(
        select(AdministrativeUnit)
        .where(AdministrativeUnit.code == code)
        .order_by(AdministrativeUnit.valid_from.is_not(None), AdministrativeUnit.valid_from)
    ).all()
    return "; ".join(f"{unit.name} ({_span(unit)})" for unit in units)


def unit_named(session: Session, code: str, on: date, field: str) -> AdministrativeUnit:
    """The unit a code given in a request names on `on` (a code means a unit only together with
    a date: codes were reused in the 2025 reform). When it named none that day: 422 naming the
    field and saying what the code has named, not a 404 about something the caller sent."""
    unit = units_by_codes(session, [code], on).get(code)
    if unit is not None:
        return unit
    meanings = code_meanings(session, code)
    if not meanings:
        raise invalid_field(field, "unknown_unit", f"Không có đơn vị hành chính mã {code}.")
    raise invalid_field(
        field,
        "unit_not_in_force",
        f"Vào ngày {on:%d/%m/%Y} mã {code} không chỉ đơn vị nào; mã này là: {meanings}.",
    )


def require_current_or_writable(
    session: Session, principal: Principal, unit: AdministrativeUnit, code_field: str, on: date
) -> None:
    """A unit found for a past day that has since ended, outside the caller's units: the caller
    most likely meant the unit carrying the code today. Say which unit the code meant that day
    (422 on the field), rather than refusing as if they had tried another commune's data."""
    if unit.valid_to is None or unit.valid_to > clock.today() or in_jurisdiction(session, principal, unit.id):
        return
    raise invalid_field(
        code_field,
        "unit_ended",
        f"Vào ngày {on:%d/%m/%Y} mã {unit.code} là {unit.name} ({_span(unit)}), không phải đơn vị đang hoạt động; "
        f"mã này là: {code_meanings(session, unit.code)}. Hãy ghi ngày trong thời gian đơn vị hiện nay đã có.",
    )


def summary(unit: AdministrativeUnit) -> UnitSummary:
    return UnitSummary(
        id=unit.id,
        code=unit.code,
        name=unit.name,
        unit_type=unit.unit_type,
        level=UnitLevel(unit.level),
        valid_from=unit.valid_from,
        valid_to=unit.valid_to,
    )


def list_units(
    session: Session,
    *,
    parent_code: str | None,
    level: UnitLevel | None,
    q: str | None,
    as_of: date,
    limit: int,
    offset: int,
) -> tuple[list[UnitSummary], int]:
    query = select(AdministrativeUnit).where(*in_force_on(as_of))
    if parent_code:
        query = query.where(AdministrativeUnit.parent_id == unit_named(session, parent_code, as_of, "query.parent").id)
    if level:
        query = query.where(AdministrativeUnit.level == level)
    if q and plain(q):
        pattern = "%" + plain(q).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(AdministrativeUnit.search_name.like(pattern, escape="\\"))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(AdministrativeUnit.code, AdministrativeUnit.id).limit(limit).offset(offset))
    return [summary(unit) for unit in rows], total


def _links(session: Session, unit_id: int, direction: str) -> list[SuccessionLink]:
    other = aliased(AdministrativeUnit)
    mine, theirs = (
        (UnitSuccession.successor_id, UnitSuccession.predecessor_id)
        if direction == "predecessors"
        else (UnitSuccession.predecessor_id, UnitSuccession.successor_id)
    )
    rows = session.execute(
        select(UnitSuccession, other)
        .join(other, other.id == theirs)
        .where(mine == unit_id)
        .order_by(UnitSuccession.effective_date, other.code)
    )
    return [
        SuccessionLink(
            unit=summary(unit),
            effective_date=link.effective_date,
            kind=link.kind,
            is_default=link.is_default,
            share=link.share,
            source=link.source,
            note=link.note,
        )
        for link, unit in rows
    ]


def current_successors(session: Session, unit_id: int, today: date | None = None) -> list[AdministrativeUnit]:
    """Units in force today reached from `unit_id` through any chain of successions (one
    recursive query). A unit still in force is its own answer."""
    today = today or clock.today()
    chain = (
        select(UnitSuccession.successor_id.label("unit_id"))
        .where(UnitSuccession.predecessor_id == unit_id)
        .cte("chain", recursive=True)
    )
    chain = chain.union(
        select(UnitSuccession.successor_id).join(chain, UnitSuccession.predecessor_id == chain.c.unit_id)
    )
    reached = select(chain.c.unit_id).union(select(func.cast(unit_id, AdministrativeUnit.id.type)))
    return list(
        session.scalars(
            select(AdministrativeUnit)
            .where(AdministrativeUnit.id.in_(reached), *in_force_on(today))
            .order_by(AdministrativeUnit.code)
        )
    )


def unit_detail(session: Session, unit: AdministrativeUnit, as_of: date) -> UnitDetail:
    ancestor = aliased(AdministrativeUnit)
    parents = session.scalars(
        select(ancestor)
        .join(UnitAncestor, UnitAncestor.ancestor_id == ancestor.id)
        .where(UnitAncestor.unit_id == unit.id, UnitAncestor.depth > 0)
        .order_by(UnitAncestor.depth.desc())
    )
    children = session.scalars(
        select(AdministrativeUnit)
        .where(AdministrativeUnit.parent_id == unit.id, *in_force_on(as_of))
        .order_by(AdministrativeUnit.code)
    )
    return UnitDetail(
        **summary(unit).model_dump(),
        as_of=as_of,
        parents=[summary(p) for p in parents],
        children=[summary(c) for c in children],
        predecessors=_links(session, unit.id, "predecessors"),
        successors=_links(session, unit.id, "successors"),
        current_successors=[summary(u) for u in current_successors(session, unit.id)],
        source=unit.source,
    )


# --- jurisdiction ----------------------------------------------------------------------------


def province_code_of(session: Session, unit_id: int) -> str | None:
    """The code of the province a unit lies in (the unit itself for a province)."""
    return session.scalar(
        select(AdministrativeUnit.code)
        .join(UnitAncestor, UnitAncestor.ancestor_id == AdministrativeUnit.id)
        .where(UnitAncestor.unit_id == unit_id, AdministrativeUnit.level == UnitLevel.PROVINCE)
    )


def in_jurisdiction(session: Session, principal: Principal, unit_id: int) -> bool:
    """The unit is one of the caller's units or lies below one (admins: everywhere)."""
    if principal.is_admin:
        return True
    if not principal.unit_ids:
        return False
    return (
        session.scalar(
            select(func.count())
            .select_from(UnitAncestor)
            .where(UnitAncestor.unit_id == unit_id, UnitAncestor.ancestor_id.in_(principal.unit_ids))
        )
        > 0
    )


def require_unit_writer(session: Session, principal: Principal, unit: AdministrativeUnit) -> None:
    """Writes to a commune's units: an admin, or a commune officer of that commune."""
    if principal.role not in (Role.ADMIN, Role.COMMUNE_OFFICER) or not in_jurisdiction(session, principal, unit.id):
        raise Forbidden("Chỉ cán bộ xã/phường quản lý đơn vị này (hoặc quản trị viên) được thay đổi.")


def add_ancestors(session: Session, unit: AdministrativeUnit) -> None:
    """Closure rows for a new unit: itself, then its parent's ancestors one level deeper."""
    session.execute(insert(UnitAncestor).values(unit_id=unit.id, ancestor_id=unit.id, depth=0))
    if unit.parent_id is not None:
        session.execute(
            insert(UnitAncestor).from_select(
                ["unit_id", "ancestor_id", "depth"],
                select(
                    func.cast(unit.id, UnitAncestor.unit_id.type), UnitAncestor.ancestor_id, UnitAncestor.depth + 1
                ).where(UnitAncestor.unit_id == unit.parent_id),
            )
        )


# --- villages (thôn, tổ dân phố) ---------------------------------------------------------------


def _next_village_numbers(session: Session, commune: AdministrativeUnit, count: int) -> list[str]:
    existing = session.scalars(
        select(AdministrativeUnit.code).where(
            AdministrativeUnit.level == UnitLevel.VILLAGE, AdministrativeUnit.code.like(f"{commune.code}-%")
        )
    )
    highest = max((int(code.rsplit("-", 1)[1]) for code in existing), default=0)
    if highest + count > 9999:
        raise Conflict("Xã/phường này đã dùng hết mã thôn/tổ dân phố.", code="village_codes_exhausted")
    return [f"{commune.code}-{number:03d}" for number in range(highest + 1, highest + count + 1)]


def _require_commune(unit: AdministrativeUnit) -> None:
    if unit.level != UnitLevel.COMMUNE:
        raise Problem(
            422,
            "not_a_commune",
            "Dữ liệu không hợp lệ",
            f"{unit.name} không phải cấp xã/phường; thôn/tổ dân phố chỉ thuộc cấp xã.",
        )


def _check_village_names(session: Session, commune: AdministrativeUnit, villages: list[VillageCreate]) -> None:
    taken = {
        plain(name)
        for name in session.scalars(
            select(AdministrativeUnit.name).where(
                AdministrativeUnit.parent_id == commune.id, AdministrativeUnit.valid_to.is_(None)
            )
        )
    }
    errors, seen = [], set()
    for index, village in enumerate(villages):
        key = plain(village.name)
        if key in taken or key in seen:
            errors.append(
                FieldError(
                    field=f"body.{index}.name" if len(villages) > 1 else "body.name",
                    code="duplicate_name",
                    message=f'{commune.name} đã có đơn vị tên "{village.name}".',
                )
            )
        seen.add(key)
        if village.valid_from and commune.valid_from and village.valid_from < commune.valid_from:
            errors.append(
                FieldError(
                    field=f"body.{index}.valid_from" if len(villages) > 1 else "body.valid_from",
                    code="before_commune",
                    message=f"Không được sớm hơn ngày thành lập {commune.name}.",
                )
            )
    if errors:
        raise Problem(
            422, "validation_failed", "Dữ liệu không hợp lệ", "Một số thôn/tổ dân phố không hợp lệ.", errors=errors
        )


def create_villages(
    session: Session, commune: AdministrativeUnit, villages: list[VillageCreate], actor: Principal | None = None
) -> list[AdministrativeUnit]:
    """Create villages under a commune in one transaction: all or none."""
    _require_commune(commune)
    if commune.valid_to is not None:
        raise Conflict(f"{commune.name} đã hết hiệu lực từ {commune.valid_to:%d/%m/%Y}.", code="unit_ended")
    _check_village_names(session, commune, villages)
    created = []
    for village, code in zip(villages, _next_village_numbers(session, commune, len(villages)), strict=True):
        unit = AdministrativeUnit(
            code=code,
            name=village.name,
            search_name=plain(village.name),
            unit_type=village.unit_type,
            level=UnitLevel.VILLAGE,
            parent_id=commune.id,
            valid_from=village.valid_from or clock.today(),
            valid_to=None,
            source="village",
        )
        session.add(unit)
        session.flush()
        add_ancestors(session, unit)
        audit(session, actor, "create", "unit", unit.id, None, snapshot(unit), code=code)
        created.append(unit)
    session.flush()
    return created


def _unreadable_csv(line: int) -> Problem:
    return Problem(
        422,
        "invalid_file",
        "Tệp không hợp lệ",
        f"Không đọc được dòng {line} của tệp CSV (ký tự NUL, ô quá dài hoặc dấu ngoặc kép không đóng).",
        errors=[FieldError(field=f"line {line}", code="unreadable", message="Dòng không đọc được.")],
    )


def parse_village_csv(content: bytes) -> list[VillageCreate]:
    """Rows of `name,unit_type[,valid_from]` (UTF-8, a BOM from Excel is fine). Every bad row
    is reported with its line number and field; nothing is created if any row is bad."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Problem(422, "invalid_file", "Tệp không hợp lệ", "Tệp phải là CSV mã hoá UTF-8.") from None
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = [column.strip() for column in reader.fieldnames or []]
    except csv.Error:
        raise _unreadable_csv(1) from None
    repeated = sorted({column for column in header if column and header.count(column) > 1})
    if repeated:
        raise Problem(422, "invalid_file", "Tệp không hợp lệ", f"Cột ghi hai lần: {', '.join(repeated)}.")
    missing = [column for column in ("name", "unit_type") if column not in header]
    if missing:
        raise Problem(
            422,
            "invalid_file",
            "Tệp không hợp lệ",
            f"Thiếu cột: {', '.join(missing)}. Dòng đầu phải là: name,unit_type[,valid_from].",
        )
    villages, errors = [], []
    line = 1
    try:
        for line, row in enumerate(reader, start=2):
            if line - 1 > MAX_IMPORT_ROWS:
                raise Problem(422, "too_many_rows", "Tệp quá lớn", f"Tối đa {MAX_IMPORT_ROWS} dòng mỗi lần nhập.")
            values = {key.strip(): (value or "").strip() for key, value in row.items() if isinstance(key, str)}
            bad = [(column, char) for column, value in values.items() if (char := forbidden_character(value))]
            if bad:
                errors += [
                    FieldError(field=f"line {line}.{column}", code="control_character", message=f"Có ký tự {char}.")
                    for column, char in bad
                ]
                continue
            if not any(values.values()):
                continue
            try:
                villages.append(
                    VillageCreate(
                        name=values.get("name", ""),
                        unit_type=values.get("unit_type", ""),
                        valid_from=values.get("valid_from") or None,
                    )
                )
            except ValidationError as error:
                errors += [
                    FieldError(field=f"line {line}.{e.field}", code=e.code, message=e.message)
                    for e in field_errors(list(error.errors()))
                ]
    except csv.Error:  # a NUL byte, a field over the csv module's limit, a broken quote
        raise _unreadable_csv(line + 1) from None
    if errors:
        raise Problem(
            422, "validation_failed", "Dữ liệu không hợp lệ", "Một số dòng của tệp không hợp lệ.", errors=errors
        )
    if not villages:
        raise Problem(422, "empty_file", "Tệp không hợp lệ", "Tệp không có dòng dữ liệu nào.")
    return villages


def update_village(
    session: Session, village: AdministrativeUnit, data: VillageUpdate, actor: Principal | None = None
) -> AdministrativeUnit:
    if village.level != UnitLevel.VILLAGE:
        raise Forbidden(
            "Chỉ thôn/tổ dân phố do xã/phường tạo mới sửa được qua API; đơn vị hành chính "
            "chính thức được nạp từ dữ liệu gốc."
        )
    before = snapshot(village)
    if data.name is not None and plain(data.name) != plain(village.name):
        clash = session.scalar(
            select(func.count())
            .select_from(AdministrativeUnit)
            .where(
                AdministrativeUnit.parent_id == village.parent_id,
                AdministrativeUnit.valid_to.is_(None),
                AdministrativeUnit.search_name == plain(data.name),
                AdministrativeUnit.id != village.id,
            )
        )
        if clash:
            raise Problem(
                422,
                "validation_failed",
                "Dữ liệu không hợp lệ",
                "Tên đã được dùng trong xã/phường.",
                errors=[
                    FieldError(field="body.name", code="duplicate_name", message=f'Đã có đơn vị tên "{data.name}".')
                ],
            )
        village.name, village.search_name = data.name, plain(data.name)
    if data.unit_type is not None:
        village.unit_type = data.unit_type
    if data.valid_to is not None:
        # Someone still living there on the closing day would live in a unit that no longer is.
        staying = session.scalar(
            select(func.count())
            .select_from(Residence)
            .where(
                Residence.unit_id == village.id, or_(Residence.valid_to.is_(None), Residence.valid_to > data.valid_to)
            )
        )
        if staying:
            raise Conflict(
                f"{village.name} còn {staying} người, hộ hoặc cơ quan cư trú sau ngày thôi sử dụng; "
                "hãy ghi việc chuyển nơi cư trú của họ trước.",
                code="village_has_residents",
            )
        if village.valid_from and data.valid_to <= village.valid_from:
            raise Problem(
                422,
                "validation_failed",
                "Dữ liệu không hợp lệ",
                "Ngày hết hiệu lực không hợp lệ.",
                errors=[
                    FieldError(field="body.valid_to", code="before_start", message="Phải sau ngày bắt đầu hiệu lực.")
                ],
            )
        village.valid_to = data.valid_to
    village.updated_at = clock.now()
    audit(session, actor, "update", "unit", village.id, before, snapshot(village), code=village.code)
    session.flush()
    return village
