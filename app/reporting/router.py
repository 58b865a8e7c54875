"""Reporting API: periods and deadlines, a unit's report and its transitions, and the overview
of the level above (province, national) with the consolidated export."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from app.auth.dependencies import CurrentPrincipal
from app.database import SessionDep
from app.exceptions import problem_responses
from app.params import Limit, Offset
from app.reporting import overview, periods, reports, service
from app.reporting.models import ReportLevel
from app.reporting.schemas import (
    ConsolidatedOut,
    DeadlineIn,
    DeadlineList,
    DeadlineOut,
    HistoryList,
    PeriodList,
    ReportOut,
    TransitionIn,
    TypedFieldsIn,
    UnitStateList,
)
from app.stats.report import XLSX_TYPE
from app.units.schemas import UnitCodeStr

router = APIRouter(prefix="/reporting-periods", tags=["reporting"], responses=problem_responses(401, 403))
PeriodKey = Annotated[str, Path(pattern=r"^20[0-9]{2}(-h1)?$", description="2025 (năm) hoặc 2025-h1 (6 tháng đầu năm)")]
UnitCode = Annotated[UnitCodeStr, Path(description="Mã xã, phường hoặc tỉnh")]
Format = Annotated[Literal["xlsx", "csv"], Query()]
EXPORTED = {"content": {XLSX_TYPE: {}, "text/csv": {}}, "description": "Báo cáo tổng hợp"}


@router.get("", response_model=PeriodList, summary="Các kỳ báo cáo (năm, 6 tháng)")
def list_periods(
    session: SessionDep,
    principal: CurrentPrincipal,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict:
    items, total = periods.list_periods(session, year, limit, offset)
    return {"items": [service.period_out(p) for p in items], "total": total}


@router.get(
    "/{period}/deadlines",
    response_model=DeadlineList,
    responses=problem_responses(404),
    summary="Hạn báo cáo của kỳ, theo cấp và nơi áp dụng",
)
def list_deadlines(
    session: SessionDep, principal: CurrentPrincipal, period: PeriodKey, limit: Limit = 50, offset: Offset = 0
) -> dict:
    found = periods.list_deadlines(session, periods.get_period(session, period))
    return {"items": [service.deadline_out(session, d) for d in found[offset : offset + limit]], "total": len(found)}


@router.put(
    "/{period}/deadlines",
    response_model=DeadlineOut,
    responses=problem_responses(404, 422),
    summary="Đặt hạn báo cáo (cán bộ cấp tỉnh: trong tỉnh mình; quản trị viên: mọi nơi)",
)
def set_deadline(session: SessionDep, principal: CurrentPrincipal, period: PeriodKey, body: DeadlineIn) -> dict:
    found = periods.get_period(session, period)
    scope = service.unit_by_code(session, body.unit_code) if body.unit_code else None
    deadline = periods.set_deadline(session, principal, found, ReportLevel(body.level), scope, body.due_on, body.source)
    return service.deadline_out(session, deadline)


def _report(session, principal, period: str, unit_code: str) -> reports.ReportView:
    return reports.view(
        session, principal, periods.get_period(session, period), service.unit_by_code(session, unit_code)
    )


@router.get(
    "/{period}/reports/{unit_code}",
    response_model=ReportOut,
    responses=problem_responses(404, 422),
    summary="Báo cáo của một xã (hoặc tỉnh) trong kỳ, với các quyền của người gọi (may_*)",
)
def read_report(session: SessionDep, principal: CurrentPrincipal, period: PeriodKey, unit_code: UnitCode) -> dict:
    return service.report_out(session, principal, _report(session, principal, period, unit_code))


@router.put(
    "/{period}/reports/{unit_code}/fields",
    response_model=ReportOut,
    responses=problem_responses(404, 409, 422),
    summary="Nhập các số liệu sổ không biết (mỗi số kèm nguồn)",
)
def set_fields(
    session: SessionDep, principal: CurrentPrincipal, period: PeriodKey, unit_code: UnitCode, body: TypedFieldsIn
) -> dict:
    report = _report(session, principal, period, unit_code)
    values = {key: value.model_dump() if value else None for key, value in body.fields.items()}
    reports.set_typed(session, principal, report, values)
    return service.report_out(session, principal, report)


@router.post(
    "/{period}/reports/{unit_code}/transitions",
    response_model=ReportOut,
    responses=problem_responses(404, 409, 422),
    summary="Gửi, duyệt, trả lại (có lý do) hoặc mở khóa (có lý do) báo cáo",
)
def transition(
    session: SessionDep, principal: CurrentPrincipal, period: PeriodKey, unit_code: UnitCode, body: TransitionIn
) -> dict:
    report = _report(session, principal, period, unit_code)
    reports.transition(session, principal, report, body.action, body.reason)
    return service.report_out(session, principal, report)


@router.get(
    "/{period}/reports/{unit_code}/history",
    response_model=HistoryList,
    responses=problem_responses(404, 422),
    summary="Lịch sử của báo cáo (gửi, duyệt, trả lại, mở khóa, sửa số liệu)",
)
def report_history(
    session: SessionDep,
    principal: CurrentPrincipal,
    period: PeriodKey,
    unit_code: UnitCode,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict:
    items = reports.history(session, _report(session, principal, period, unit_code))
    return {"items": items[offset : offset + limit], "total": len(items)}


def _above(session, principal, code: str | None):
    above = service.province(session, code) if code else None
    service.require_overseer(session, principal, above)
    return above


@router.get(
    "/{period}/provinces/{province_code}/communes",
    response_model=UnitStateList,
    responses=problem_responses(404),
    summary="Tình hình gửi báo cáo của các xã trong tỉnh (đúng hạn, muộn, chưa gửi)",
)
def province_states(
    session: SessionDep,
    principal: CurrentPrincipal,
    period: PeriodKey,
    province_code: UnitCode,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict:
    found = periods.get_period(session, period)
    items, counts = overview.states(session, found, _above(session, principal, province_code))
    return {"items": items[offset : offset + limit], "total": len(items), "counts": dict(counts)}


@router.get(
    "/{period}/provinces/{province_code}/consolidated",
    response_model=ConsolidatedOut,
    responses=problem_responses(404),
    summary="Số liệu tổng hợp của tỉnh: cộng từ báo cáo đã duyệt, và số liệu trực tiếp",
)
def province_consolidated(
    session: SessionDep, principal: CurrentPrincipal, period: PeriodKey, province_code: UnitCode
) -> dict:
    found = periods.get_period(session, period)
    return overview.consolidated(session, found, _above(session, principal, province_code))


@router.get(
    "/{period}/provinces/{province_code}/export",
    response_class=Response,
    responses={
        200: {"content": {XLSX_TYPE: {}, "text/csv": {}}, "description": "Báo cáo tổng hợp"},
        **problem_responses(404),
    },
    summary="Tải báo cáo tổng hợp của tỉnh (XLSX hoặc CSV)",
)
def province_export(
    session: SessionDep,
    principal: CurrentPrincipal,
    period: PeriodKey,
    province_code: UnitCode,
    format: Format = "xlsx",
) -> Response:
    found = periods.get_period(session, period)
    above = _above(session, principal, province_code)
    return _download(overview.export(session, found, above, format), f"tong-hop-{province_code}-{period}", format)


@router.get(
    "/{period}/national/provinces",
    response_model=UnitStateList,
    responses=problem_responses(404),
    summary="Cấp trung ương: tình hình gửi báo cáo của các tỉnh",
)
def national_states(
    session: SessionDep, principal: CurrentPrincipal, period: PeriodKey, limit: Limit = 100, offset: Offset = 0
) -> dict:
    found = periods.get_period(session, period)
    items, counts = overview.states(session, found, _above(session, principal, None))
    return {"items": items[offset : offset + limit], "total": len(items), "counts": dict(counts)}


@router.get(
    "/{period}/national/consolidated",
    response_model=ConsolidatedOut,
    responses=problem_responses(404),
    summary="Cấp trung ương: cộng từ báo cáo đã duyệt của các tỉnh",
)
def national_consolidated(session: SessionDep, principal: CurrentPrincipal, period: PeriodKey) -> dict:
    found = periods.get_period(session, period)
    return overview.consolidated(session, found, _above(session, principal, None))


@router.get(
    "/{period}/national/export",
    response_class=Response,
    responses={
        200: {"content": {XLSX_TYPE: {}, "text/csv": {}}, "description": "Báo cáo tổng hợp"},
        **problem_responses(404),
    },
    summary="Cấp trung ương: tải báo cáo tổng hợp (XLSX hoặc CSV)",
)
def national_export(
    session: SessionDep, principal: CurrentPrincipal, period: PeriodKey, format: Format = "xlsx"
) -> Response:
    found = periods.get_period(session, period)
    above = _above(session, principal, None)
    return _download(overview.export(session, found, above, format), f"tong-hop-toan-quoc-{period}", format)


def _download(content: bytes, name: str, format: str) -> Response:
    media = XLSX_TYPE if format == "xlsx" else "text/csv; charset=utf-8"
    return Response(
        content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}.{format}"'}
    )
