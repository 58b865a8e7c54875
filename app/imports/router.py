"""Imports API: templates, uploading a file as a job, its progress and its error report."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from app import clock
from app.auth.dependencies import CurrentPrincipal, require_roles
from app.database import SessionDep
from app.exceptions import NotFound, Problem, problem_responses
from app.imports import accounts, service, sheets
from app.params import Limit, Offset, PastDay
from app.registry.service import WRITERS
from app.stats.report import XLSX_TYPE

router = APIRouter(
    prefix="/imports",
    tags=["imports"],
    responses=problem_responses(401, 403),
    dependencies=[Depends(require_roles(*WRITERS))],
)
Kind = Literal[tuple(service.KINDS)]  # type: ignore[valid-type]
JobId = Annotated[str, Path(pattern=r"^[0-9a-fA-F-]{36}$")]
UPLOAD_PATH = "/api/v1/imports"


def _xlsx(content: bytes, name: str) -> Response:
    return Response(content, media_type=XLSX_TYPE, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get(
    "/templates/{kind}.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX_TYPE: {}}, "description": "Tệp mẫu"}},
    summary="Tệp mẫu để nhập (tiêu đề tiếng Việt, trang hướng dẫn)",
)
def template(
    session: SessionDep,
    kind: Annotated[Kind, Path()],
    variant: Annotated[str | None, Query(max_length=64, description="Biến thể, xem /imports/kinds")] = None,
) -> Response:
    return _xlsx(service.template(session, kind, variant), f"mau-nhap-{kind}.xlsx")


@router.get("/kinds", summary="Các loại dữ liệu nhập được (và biến thể của mỗi loại)")
def kinds(session: SessionDep) -> dict:
    items = service.kinds(session)
    return {"items": items, "total": len(items)}


@router.get("", summary="Các lần nhập của tài khoản (mới nhất trước)")
def list_jobs(session: SessionDep, principal: CurrentPrincipal, limit: Limit = 20, offset: Offset = 0) -> dict:
    items, total = service.list_jobs(session, principal, limit, offset)
    return {"items": items, "total": total}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses={200: {"description": "Tệp này đã được nhập: kết quả lần trước"}, **problem_responses(413, 422)},
    summary="Gửi một tệp XLSX hoặc CSV để nhập (chạy nền; kiểm tra thử với dry_run)",
)
async def upload(
    session: SessionDep,
    principal: CurrentPrincipal,
    kind: Annotated[Kind, Form()],
    file: Annotated[UploadFile, File(description="XLSX (theo mẫu) hoặc CSV UTF-8")],
    dry_run: Annotated[bool, Form(description="Chỉ kiểm tra, không ghi")] = True,
    on_day: Annotated[PastDay | None, Form(description="Ngày của tệp: mã đơn vị hiểu theo ngày này")] = None,
    variant: Annotated[str | None, Form(max_length=64, description="Biến thể (đánh giá: danh hiệu:tiêu chí)")] = None,
):
    content = await file.read(sheets.MAX_BYTES + 1)
    if len(content) > sheets.MAX_BYTES:
        raise Problem(413, "too_large", "Tệp quá lớn", f"Tệp tối đa {sheets.MAX_BYTES // 1_000_000} MB; hãy chia nhỏ.")
    day: date = on_day or clock.today()
    job, created = service.start(session, principal, kind, file.filename or "tep", content, dry_run, day, variant)
    return JSONResponse(
        jsonable_encoder(service.summary(job)),
        status_code=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
    )


@router.get("/{job_id}", responses=problem_responses(404), summary="Tiến độ và kết quả của một lần nhập")
def read(session: SessionDep, principal: CurrentPrincipal, job_id: JobId) -> dict:
    return service.summary(service.get(session, principal, job_id))


@router.get(
    "/{job_id}/errors.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX_TYPE: {}}, "description": "Báo cáo lỗi"}, **problem_responses(404)},
    summary="Báo cáo lỗi: dòng, cột, giá trị, lý do",
)
def errors(session: SessionDep, principal: CurrentPrincipal, job_id: JobId) -> Response:
    job = service.get(session, principal, job_id)
    if job.error_report is None:
        raise NotFound("Lần nhập này không có lỗi.")
    return _xlsx(job.error_report, f"loi-nhap-{job.public_id[:8]}.xlsx")


@router.get(
    "/{job_id}/codes.xlsx",
    response_class=Response,
    responses={
        200: {"content": {XLSX_TYPE: {}}, "description": "Bảng mã kích hoạt (tải được một lần)"},
        **problem_responses(404, 409, 410, 422),
    },
    summary="Bảng mã kích hoạt của các tài khoản vừa nhập: chỉ người nhập, một lần",
)
def activation_codes(request: Request, session: SessionDep, principal: CurrentPrincipal, job_id: JobId) -> Response:
    """Username, name, role, one-time code, expiry and activation link of every account the
    import created. The codes are drawn now and exist nowhere else: a second download is 410."""
    content = accounts.codes_sheet(session, principal, job_id, request.app.state.settings)
    response = _xlsx(content, f"ma-kich-hoat-{job_id[:8].lower()}.xlsx")
    response.headers["Cache-Control"] = "no-store"
    return response
