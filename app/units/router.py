"""Units API: public reads; villages and re-homing for commune officers in their commune."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, UploadFile, status

from app import clock
from app.auth.dependencies import CurrentPrincipal
from app.database import SessionDep
from app.exceptions import Problem, problem_responses
from app.params import Day, Limit, Offset
from app.units import service
from app.units.models import AdministrativeUnit, UnitLevel
from app.units.rehoming import rehome
from app.units.schemas import (
    RehomingReport,
    RehomingRequest,
    UnitCodeStr,
    UnitDetail,
    UnitList,
    VillageCreate,
    VillageImportResult,
    VillageUpdate,
)

router = APIRouter(prefix="/units", tags=["units"])

AsOf = Annotated[Day | None, Query(description="Ngày tra cứu (mặc định: hôm nay)")]
MAX_IMPORT_BYTES = 1_000_000


def resolve_unit(code: UnitCodeStr, session: SessionDep, as_of: AsOf = None) -> AdministrativeUnit:
    """Path dependency: the unit with this code on `as_of` (404 otherwise)."""
    return service.get_unit(session, code, as_of or clock.today())


def writable_unit(
    unit: Annotated[AdministrativeUnit, Depends(resolve_unit)], session: SessionDep, principal: CurrentPrincipal
) -> AdministrativeUnit:
    """Path dependency: the unit, which the caller may change (403 otherwise)."""
    service.require_unit_writer(session, principal, unit)
    return unit


UnitDep = Annotated[AdministrativeUnit, Depends(resolve_unit)]
WritableUnitDep = Annotated[AdministrativeUnit, Depends(writable_unit)]


@router.get(
    "",
    response_model=UnitList,
    responses=problem_responses(404, 422),
    summary="Tìm đơn vị hành chính (theo cấp trên, cấp, tên có hoặc không dấu, ngày)",
)
def list_units(
    session: SessionDep,
    parent: Annotated[UnitCodeStr | None, Query(description="Mã đơn vị cấp trên")] = None,
    level: UnitLevel | None = None,
    q: Annotated[str | None, Query(max_length=100, description='Tên, có dấu hoặc không: "thanh xuan"')] = None,
    as_of: AsOf = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> UnitList:
    items, total = service.list_units(
        session, parent_code=parent, level=level, q=q, as_of=as_of or clock.today(), limit=limit, offset=offset
    )
    return UnitList(items=items, total=total)


@router.get(
    "/{code}",
    response_model=UnitDetail,
    responses=problem_responses(404, 422),
    summary="Một đơn vị vào một ngày: cấp trên, trực thuộc, kế thừa hai chiều",
)
def read_unit(unit: UnitDep, session: SessionDep, as_of: AsOf = None) -> UnitDetail:
    return service.unit_detail(session, unit, as_of or clock.today())


@router.post(
    "/{code}/villages",
    response_model=UnitDetail,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Tạo thôn / tổ dân phố",
)
def create_village(
    commune: WritableUnitDep, session: SessionDep, principal: CurrentPrincipal, body: VillageCreate
) -> UnitDetail:
    village = service.create_villages(session, commune, [body], principal)[0]
    return service.unit_detail(session, village, clock.today())


@router.post(
    "/{code}/villages/import",
    response_model=VillageImportResult,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 413, 422),
    summary="Nhập danh sách thôn / tổ dân phố từ tệp CSV (name,unit_type[,valid_from])",
)
def import_villages(
    commune: WritableUnitDep, session: SessionDep, principal: CurrentPrincipal, file: Annotated[UploadFile, File()]
) -> VillageImportResult:
    content = file.file.read(MAX_IMPORT_BYTES + 1)
    if len(content) > MAX_IMPORT_BYTES:
        raise Problem(413, "payload_too_large", "Dữ liệu quá lớn", "Tệp CSV tối đa 1 MB.")
    villages = service.create_villages(session, commune, service.parse_village_csv(content), principal)
    return VillageImportResult(items=[service.summary(v) for v in villages], total=len(villages))


@router.patch(
    "/{code}",
    response_model=UnitDetail,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Sửa thôn / tổ dân phố (tên, loại, ngày thôi sử dụng)",
)
def update_village(
    unit: WritableUnitDep, session: SessionDep, principal: CurrentPrincipal, body: VillageUpdate
) -> UnitDetail:
    village = service.update_village(session, unit, body, principal)
    return service.unit_detail(session, village, clock.today())


@router.post(
    "/{code}/rehoming",
    response_model=RehomingReport,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Chuyển hồ sơ của đơn vị đã sáp nhập / chia tách sang đơn vị kế thừa",
)
def rehome_unit(
    unit: UnitDep, session: SessionDep, principal: CurrentPrincipal, body: RehomingRequest
) -> RehomingReport:
    """`as_of` must be a date on which the old unit was in force (e.g. 2025-06-30)."""
    return rehome(session, principal, unit, body)
