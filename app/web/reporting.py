"""Reporting pages (báo cáo định kỳ): a commune officer prepares and submits the commune's
report; a province officer sees every commune against its deadline, approves, returns or
unlocks with a reason, and downloads the consolidated report. The reporting service does the
work; these pages only read forms and show what the caller may do."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from app import clock
from app.database import SessionDep
from app.exceptions import Problem
from app.reporting import overview, periods, reports, service
from app.reporting.figures import TYPED_FIELDS
from app.reporting.schemas import TypedValue
from app.stats.report import XLSX_TYPE
from app.units.models import UnitLevel
from app.units.service import province_code_of
from app.web.sessions import CsrfChecked, Staff, StaffDep
from app.web.staff import errors_from, my_units, staff_page

router = APIRouter(include_in_schema=False)
BASE = "/can-bo/bao-cao-dinh-ky"
PeriodKey = Annotated[str, Path(pattern=r"^20[0-9]{2}(-h1)?$")]
UnitCode = Annotated[str, Path(pattern=r"^[0-9]{2,5}$")]
ACTION_LABELS = {
    "submit": "gửi",
    "approve": "duyệt",
    "return": "trả lại",
    "unlock": "mở khóa",
    "set_fields": "sửa số liệu nhập tay",
}


@router.get(BASE, response_class=HTMLResponse)
def index(
    session: SessionDep, who: StaffDep, year: Annotated[int | None, Query(ge=2021, le=2030)] = None
) -> HTMLResponse:
    """The reports the caller deals with, for a year: their communes' and provinces'."""
    chosen = year or clock.today().year
    found, _ = periods.list_periods(session, chosen, 10, 0)
    units = [u for u in my_units(session, who) if u.level in (UnitLevel.COMMUNE, UnitLevel.PROVINCE)]
    rows = []
    for period in found:
        for unit in units:
            report = reports.view(session, who.principal, period, unit)
            rows.append({"period": period, "unit": unit, "out": service.report_out(session, who.principal, report)})
    return staff_page(
        "staff/reporting.html",
        who,
        year=chosen,
        years=list(range(2021, clock.today().year + 2)),
        rows=rows,
        period_key=periods.period_key,
        period_label=periods.period_label,
    )


def _view(session, who: Staff, period: str, unit_code: str) -> reports.ReportView:
    found = periods.get_period(session, period)
    return reports.view(session, who.principal, found, service.unit_by_code(session, unit_code))


def _report_page(session, who: Staff, period: str, unit_code: str, *, errors=(), values=None, status_code=200):
    report = _view(session, who, period, unit_code)
    out = service.report_out(session, who.principal, report)
    return staff_page(
        "staff/report.html",
        who,
        status_code=status_code,
        report=out,
        period=period,
        history=reports.history(session, report),
        actions=ACTION_LABELS,
        errors=list(errors),
        values=values or {},
        province_code=_province_code(session, who, report),
    )


def _province_code(session, who: Staff, report: reports.ReportView) -> str | None:
    """The province whose overview lists this commune, for those who oversee it (the way back)."""
    if report.unit.level != UnitLevel.COMMUNE or not reports.may_judge(session, who.principal, report.unit):
        return None
    return province_code_of(session, report.unit.id)


@router.post(BASE + "/{period}/{unit_code}/so-lieu", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def save_fields(request: Request, session: SessionDep, who: StaffDep, period: PeriodKey, unit_code: UnitCode):
    form = await request.form()
    values, typed, errors = {}, {}, []
    for key, (label, _) in TYPED_FIELDS.items():
        value, source = str(form.get(f"{key}.value", "")).strip(), str(form.get(f"{key}.source", "")).strip()
        values[key] = {"value": value, "source": source}
        if not value and not source:
            typed[key] = None
            continue
        try:
            typed[key] = TypedValue(value=value.replace(".", "") or None, source=source).model_dump()
        except ValidationError:
            errors.append((f"{key}.value", f"{label}: ghi số nguyên không âm và nguồn của số (ít nhất 3 ký tự)."))
    if not errors:
        report = _view(session, who, period, unit_code)
        try:
            reports.set_typed(session, who.principal, report, typed)
        except Problem as problem:
            errors = errors_from(problem)
    if errors:
        return _report_page(session, who, period, unit_code, errors=errors, values=values, status_code=422)
    return RedirectResponse(f"{BASE}/{period}/{unit_code}", status_code=303)


@router.post(BASE + "/{period}/{unit_code}/chuyen", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def move(request: Request, session: SessionDep, who: StaffDep, period: PeriodKey, unit_code: UnitCode):
    form = await request.form()
    action = str(form.get("action", ""))
    reason = str(form.get("reason", "")).strip() or None
    report = _view(session, who, period, unit_code)
    try:
        reports.transition(session, who.principal, report, action, reason)
    except Problem as problem:
        return _report_page(session, who, period, unit_code, errors=errors_from(problem), status_code=problem.status)
    return RedirectResponse(f"{BASE}/{period}/{unit_code}", status_code=303)


FILTERS = (("all", "Tất cả"), ("submitted", "Chờ duyệt"), ("missing", "Quá hạn, chưa gửi"), ("late", "Gửi muộn"))
PAGE_SIZE = 30
Show = Annotated[Literal["all", "submitted", "late", "missing"], Query()]
Page = Annotated[int, Query(ge=1, le=1000)]
ExportFormat = Annotated[Literal["xlsx", "csv"], Path()]


@router.get(BASE + "/{period}/tinh/{province_code}", response_class=HTMLResponse)
def province_page(
    session: SessionDep,
    who: StaffDep,
    period: PeriodKey,
    province_code: UnitCode,
    show: Show = "all",
    trang: Page = 1,
) -> HTMLResponse:
    return _overview(session, who, period, service.province(session, province_code), show, trang)


@router.get(BASE + "/{period}/toan-quoc", response_class=HTMLResponse)
def national_page(session: SessionDep, who: StaffDep, period: PeriodKey, show: Show = "all", trang: Page = 1):
    return _overview(session, who, period, None, show, trang)


def _overview(session, who: Staff, period: str, above, show: str, trang: int) -> HTMLResponse:
    """The units one level below (a province's communes; the provinces) against their deadlines."""
    found = periods.get_period(session, period)
    service.require_overseer(session, who.principal, above)
    items, counts = overview.states(session, found, above)
    waiting = sum(1 for i in items if i["state"] == "submitted")
    if show == "submitted":
        items = [i for i in items if i["state"] == "submitted"]
    elif show != "all":
        items = [i for i in items if i["timeliness"] == show]
    pages = max(1, -(-len(items) // PAGE_SIZE))
    own = (
        service.report_out(session, who.principal, reports.view(session, who.principal, found, above))
        if above
        else None
    )
    return staff_page(
        "staff/reporting_province.html",
        who,
        period=period,
        period_name=periods.period_label(found),
        province=above,
        base=f"{BASE}/{period}/tinh/{above.code}" if above else f"{BASE}/{period}/toan-quoc",
        items=items[(trang - 1) * PAGE_SIZE : trang * PAGE_SIZE],
        shown=len(items),
        pages=pages,
        page_number=min(trang, pages),
        counts=counts,
        waiting=waiting,
        show=show,
        filters=FILTERS,
        consolidated=overview.consolidated(session, found, above),
        own_report=own,
    )


@router.get(BASE + "/{period}/toan-quoc/tong-hop.{format}")
def national_export(session: SessionDep, who: StaffDep, period: PeriodKey, format: ExportFormat) -> Response:
    found = periods.get_period(session, period)
    service.require_overseer(session, who.principal, None)
    return _download(overview.export(session, found, None, format), f"tong-hop-toan-quoc-{period}", format)


@router.get(BASE + "/{period}/tinh/{province_code}/tong-hop.{format}")
def province_export(
    session: SessionDep, who: StaffDep, period: PeriodKey, province_code: UnitCode, format: ExportFormat
) -> Response:
    found = periods.get_period(session, period)
    above = service.province(session, province_code)
    service.require_overseer(session, who.principal, above)
    return _download(overview.export(session, found, above, format), f"tong-hop-{province_code}-{period}", format)


def _download(content: bytes, name: str, format: str) -> Response:
    media = XLSX_TYPE if format == "xlsx" else "text/csv; charset=utf-8"
    disposition = f'attachment; filename="{name}.{format}"'
    return Response(content, media_type=media, headers={"Content-Disposition": disposition})


# Last: "/{period}/{unit_code}" would also match "/2025/toan-quoc".
@router.get(BASE + "/{period}/{unit_code}", response_class=HTMLResponse)
def report_page(session: SessionDep, who: StaffDep, period: PeriodKey, unit_code: UnitCode) -> HTMLResponse:
    return _report_page(session, who, period, unit_code)
