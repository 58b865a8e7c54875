"""Progress against targets. Public reads for ward portals (no personal data, ETag and
Cache-Control), target entry and official denominators for officers, annual reports."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from app import clock
from app.auth.dependencies import CurrentPrincipal, require_roles
from app.auth.models import Role
from app.database import SessionDep
from app.exceptions import Forbidden, problem_responses
from app.params import Limit, Offset
from app.rules import TitleCode
from app.stats import report, service
from app.stats.schemas import (
    HonourRoll,
    OfficialDenominatorIn,
    OfficialDenominatorOut,
    Progress,
    TargetCreate,
    TargetList,
    TargetOut,
)
from app.units.models import AdministrativeUnit
from app.units.router import AsOf, resolve_unit
from app.units.schemas import UnitCodeStr
from app.units.service import get_unit, in_jurisdiction

router = APIRouter(tags=["statistics"])
Year = Annotated[int, Query(ge=2000, le=2100, description="Năm")]
UnitDep = Annotated[AdministrativeUnit, Depends(resolve_unit)]
NOT_MODIFIED = {304: {"description": "Không đổi so với ETag đã có"}}


def _cached(request: Request, response: Response, session, territory: AdministrativeUnit | None, *key):
    """ETag from the data version (of `territory`'s counts, when the answer depends on them);
    True when the client's copy is current (answer 304)."""
    tag = service.public_etag(request.url.path, *key, *service.data_versions(session, territory))
    response.headers["ETag"] = tag
    response.headers["Cache-Control"] = f"public, max-age={request.app.state.settings.public_cache_seconds}"
    return tag, request.headers.get("if-none-match") == tag


@router.get(
    "/units/{code}/progress",
    response_model=Progress,
    responses={**problem_responses(404, 422), **NOT_MODIFIED},
    summary="Tỉ lệ đạt danh hiệu và chỉ tiêu của một đơn vị trong một năm (công khai)",
)
def unit_progress(
    request: Request,
    response: Response,
    session: SessionDep,
    unit: UnitDep,
    year: Year,
    as_of: AsOf = None,
    basis: Annotated[
        Literal["all", "registered"], Query(description="Mẫu số: toàn bộ hay chỉ đối tượng đã đăng ký")
    ] = "all",
    segment: Annotated[
        str | None,
        Query(pattern=r"^[a-z][a-z0-9_]{1,31}$", description="Chỉ một nhóm: education, một nhóm đơn vị, …"),
    ] = None,
):
    tag, fresh = _cached(request, response, session, unit, unit.id, year, basis, segment, clock.today())
    if fresh:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=dict(response.headers))
    # Kept as the JSON sent (about 18 KB for a commune, most of it the sentences of every target
    # that applies), not as the model (several times that in objects): the cache's size bound
    # then bounds its memory too.
    cache = request.app.state.stats_cache
    body = cache.get(tag)
    if body is None:
        body = service.progress(session, unit, year, basis=basis, only_segment=segment).model_dump_json().encode()
        cache.put(tag, body)
    return Response(content=body, media_type="application/json", headers=dict(response.headers))


@router.get(
    "/targets",
    response_model=TargetList,
    responses={**problem_responses(404, 422), **NOT_MODIFIED},
    summary="Các chỉ tiêu áp dụng cho một đơn vị: của đơn vị, cấp trên, đơn vị cũ và toàn quốc (công khai)",
)
def list_targets(
    request: Request,
    response: Response,
    session: SessionDep,
    unit: Annotated[UnitCodeStr, Query(description="Mã đơn vị")],
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    as_of: AsOf = None,
):
    target_unit = get_unit(session, unit, as_of or clock.today())
    _, fresh = _cached(request, response, session, None, target_unit.id, year)
    if fresh:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=dict(response.headers))
    items = service.targets_for(session, target_unit, year)
    return TargetList(items=items, total=len(items))


@router.post(
    "/targets",
    response_model=TargetOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
    summary="Thêm một chỉ tiêu (cán bộ có thẩm quyền)",
)
def create_target(session: SessionDep, principal: CurrentPrincipal, body: TargetCreate) -> TargetOut:
    target = service.create_target(session, principal, body)
    units = {target.unit_id: session.get(AdministrativeUnit, target.unit_id)} if target.unit_id else {}
    return service.target_out(session, target, 0, units)


@router.get(
    "/units/{code}/honour-roll",
    response_model=HonourRoll,
    responses={**problem_responses(404, 422), **NOT_MODIFIED},
    summary="Bảng vàng: hộ, dòng họ, thôn, cơ quan được công nhận (công khai)",
)
def honour_roll(
    request: Request,
    response: Response,
    session: SessionDep,
    unit: UnitDep,
    year: Year,
    title: TitleCode | None = None,
    as_of: AsOf = None,
    limit: Limit = 50,
    offset: Offset = 0,
):
    _, fresh = _cached(request, response, session, unit, unit.id, year, title, limit, offset, clock.today())
    if fresh:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=dict(response.headers))
    items, total = service.honour_roll(
        session, unit, year, title, request.app.state.settings.publish_person_names, limit=limit, offset=offset
    )
    return HonourRoll(unit=service.unit_ref(unit), year=year, items=items, total=total)


@router.put(
    "/units/{code}/official-denominators",
    response_model=OfficialDenominatorOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="Nhập mẫu số chính thức (kèm nguồn) cho một năm",
)
def set_official_denominator(
    session: SessionDep, principal: CurrentPrincipal, unit: UnitDep, body: OfficialDenominatorIn
) -> OfficialDenominatorOut:
    service.set_official_denominator(session, principal, unit, body)
    return OfficialDenominatorOut(**body.model_dump(), unit_code=unit.code)


@router.get(
    "/units/{code}/report",
    responses={
        **problem_responses(401, 403, 404, 422),
        200: {"content": {"text/csv": {}, report.XLSX_TYPE: {}}, "description": "Báo cáo năm"},
    },
    response_class=Response,
    # Staff only: a portal client reads title status, not the commune's working report.
    dependencies=[Depends(require_roles(Role.ADMIN, Role.PROVINCE_OFFICER, Role.COMMUNE_OFFICER, Role.ASSESSOR))],
    summary="Báo cáo năm của đơn vị (XLSX hoặc CSV)",
)
def annual_report(
    session: SessionDep,
    principal: CurrentPrincipal,
    unit: UnitDep,
    year: Year,
    format: Annotated[Literal["xlsx", "csv"], Query()] = "xlsx",
    as_of: AsOf = None,
) -> Response:
    # A unit is public, so refusing says nothing secret: 403, as for every act on a unit outside
    # the caller's jurisdiction (records by id answer 404 instead; docs/registry.md).
    if not in_jurisdiction(session, principal, unit.id):
        raise Forbidden("Đơn vị này không thuộc phạm vi quản lý của tài khoản.")
    return report.download(session, unit, year, format)


GroupName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{1,31}$", description="Tên nhóm, ví dụ disadvantaged")]


@router.put(
    "/units/{code}/groups/{group}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 422),
    summary="Xếp đơn vị vào một nhóm (ví dụ vùng khó khăn)",
)
def add_to_group(session: SessionDep, principal: CurrentPrincipal, unit: UnitDep, group: GroupName) -> Response:
    service.set_unit_group(session, principal, unit, group, member=True)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/units/{code}/groups/{group}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 422),
    summary="Bỏ đơn vị khỏi một nhóm",
)
def remove_from_group(session: SessionDep, principal: CurrentPrincipal, unit: UnitDep, group: GroupName) -> Response:
    service.set_unit_group(session, principal, unit, group, member=False)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
