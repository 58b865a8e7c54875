"""Import pages (nhập từ Excel) for commune officers, assessors and administrators: the kinds
and their templates, uploading a file to check it or to write it, the job's progress (polled by
htmx while it runs), its errors and the error report. The same service as the API does the work."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from app import clock
from app.database import SessionDep
from app.exceptions import NotFound, Problem
from app.imports import accounts, service, sheets
from app.stats.report import XLSX_TYPE
from app.text import iso_day
from app.web.sessions import CsrfChecked, Staff, StaffDep
from app.web.staff import errors_from, staff_page

router = APIRouter(include_in_schema=False)
UPLOAD_PAGE = "/can-bo/nhap"
JobId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]
KindKey = Annotated[str, Path(pattern=r"^[a-z_]{1,32}$")]
STATE_NAMES = {
    "queued": "Đang chờ",
    "running": "Đang kiểm tra",
    "done": "Xong",
    "refused": "Có lỗi — không ghi gì",
    "failed": "Không chạy được",
}


def _kinds_for(session, who: Staff) -> list[dict]:
    return [kind for kind in service.kinds(session) if who.principal.role in service.KINDS[kind["key"]].roles]


def _upload_page(session, who: Staff, *, values: dict, errors: list, status_code: int = 200) -> HTMLResponse:
    jobs, total = service.list_jobs(session, who.principal, 20, 0)
    return staff_page(
        "staff/imports.html",
        who,
        status_code=status_code,
        kinds=_kinds_for(session, who),
        jobs=jobs,
        total=total,
        states=STATE_NAMES,
        kind_labels={key: kind.label for key, kind in service.KINDS.items()},
        values=values,
        errors=errors,
        today=clock.today(),
    )


@router.get(UPLOAD_PAGE, response_class=HTMLResponse)
def imports_page(session: SessionDep, who: StaffDep, kind: Annotated[str | None, Query(max_length=32)] = None):
    return _upload_page(session, who, values={"kind": kind or "people"}, errors=[])


@router.get("/can-bo/nhap/mau/{kind}.xlsx")
def template(
    session: SessionDep, who: StaffDep, kind: KindKey, variant: Annotated[str | None, Query(max_length=64)] = None
) -> Response:
    if kind not in service.KINDS or who.principal.role not in service.KINDS[kind].roles:
        raise NotFound("Không có mẫu nhập này.")
    content = service.template(session, kind, variant or None)
    name = f"mau-nhap-{kind}.xlsx"
    return Response(content, media_type=XLSX_TYPE, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _day(typed: str) -> date | None:
    """The file's day as typed (blank: today); None when it is not a day or is in the future."""
    if not typed:
        return clock.today()
    try:
        day = date.fromisoformat(iso_day(typed) or "")
    except ValueError:
        return None
    return day if day <= clock.today() else None


@router.post(UPLOAD_PAGE, response_class=HTMLResponse, dependencies=[CsrfChecked])
async def upload(request: Request, session: SessionDep, who: StaffDep):
    form = await request.form()
    values = {name: str(form.get(name) or "").strip() for name in ("kind", "variant", "on_day")}
    file = form.get("file")
    errors: list[tuple[str, str]] = []
    kind = values["kind"]
    if kind not in service.KINDS:
        errors.append(("kind", "Hãy chọn loại dữ liệu."))
    if not isinstance(file, UploadFile) or not file.filename:
        errors.append(("file", "Hãy chọn tệp Excel (.xlsx) hoặc CSV."))
    on_day = _day(values["on_day"])
    if on_day is None:
        errors.append(("on_day", "Ngày của tệp viết dd/mm/yyyy và không sau hôm nay."))
    if errors:
        return _upload_page(session, who, values=values, errors=errors, status_code=422)
    content = await file.read(sheets.MAX_BYTES + 1)
    if len(content) > sheets.MAX_BYTES:
        errors.append(("file", f"Tệp tối đa {sheets.MAX_BYTES // 1_000_000} MB; hãy chia nhỏ."))
        return _upload_page(session, who, values=values, errors=errors, status_code=413)
    dry_run = form.get("write") is None  # the "check only" button, or Enter in the form
    try:
        job, _ = service.start(
            session,
            who.principal,
            kind,
            file.filename,
            content,
            dry_run,
            on_day,
            values["variant"] or None,
        )
    except Problem as problem:
        return _upload_page(session, who, values=values, errors=errors_from(problem), status_code=problem.status)
    return RedirectResponse(f"{UPLOAD_PAGE}/{job.public_id}", status_code=303)


def _job_context(session, who: Staff, job_id: str) -> dict:
    job = service.get(session, who.principal, job_id)
    found = service.summary(job)
    kind = service.KINDS.get(job.kind)
    return {
        "job": found,
        "kind_label": kind.label if kind else job.kind,
        "states": STATE_NAMES,
        "running": job.state in ("queued", "running"),
    }


@router.get("/can-bo/nhap/{job_id}", response_class=HTMLResponse)
def job_page(session: SessionDep, who: StaffDep, job_id: JobId):
    return staff_page("staff/import_job.html", who, **_job_context(session, who, job_id))


@router.get("/can-bo/nhap/{job_id}/tien-do", response_class=HTMLResponse)
def job_progress(session: SessionDep, who: StaffDep, job_id: JobId):
    """The progress part of the job page, which htmx polls while the job runs; once the job is
    over the whole page is reloaded (its errors are shown below the progress)."""
    context = _job_context(session, who, job_id)
    response = staff_page("staff/_import_progress.html", who, **context)
    if not context["running"]:
        response.headers["HX-Refresh"] = "true"
    return response


@router.get("/can-bo/nhap/{job_id}/loi.xlsx")
def error_report(session: SessionDep, who: StaffDep, job_id: JobId) -> Response:
    job = service.get(session, who.principal, job_id)
    if job.error_report is None:
        raise NotFound("Lần nhập này không có lỗi.")
    name = f"loi-nhap-{job.public_id[:8]}.xlsx"
    return Response(
        job.error_report, media_type=XLSX_TYPE, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.post("/can-bo/nhap/{job_id}/ma-kich-hoat", dependencies=[CsrfChecked])
def activation_codes(request: Request, session: SessionDep, who: StaffDep, job_id: JobId) -> Response:
    """The one-time activation codes of the accounts an import created: drawn now, downloadable
    once, by the administrator who imported them (a POST: it changes something)."""
    content = accounts.codes_sheet(session, who.principal, job_id, request.app.state.settings)
    name = f"ma-kich-hoat-{job_id[:8]}.xlsx"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return Response(content, media_type=XLSX_TYPE, headers=headers)
