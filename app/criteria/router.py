"""Criteria API: public reads and dry-run evaluation; uploads and publication by admins."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, status

from app import clock
from app.auth.dependencies import AdminPrincipal, OptionalPrincipal, require_roles
from app.auth.models import Role
from app.criteria import service
from app.criteria.models import CriteriaVersionRecord, VersionState
from app.criteria.schemas import ChangeList, EvaluationRequest, VersionDetail, VersionList, VersionSummary
from app.database import SessionDep
from app.exceptions import Problem, problem_responses
from app.params import Day, Limit, Offset
from app.rules import Result, TitleCode

router = APIRouter(prefix="/criteria", tags=["criteria"])

VersionPath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", description="Mã phiên bản")]
MAX_UPLOAD_BYTES = 1_000_000


def version_record(
    title: TitleCode, version: VersionPath, session: SessionDep, principal: OptionalPrincipal
) -> CriteriaVersionRecord:
    """Path dependency: a version the caller may see (drafts only for admins)."""
    return service.get_version(session, title, version, principal)


VersionDep = Annotated[CriteriaVersionRecord, Depends(version_record)]


@router.get(
    "/versions", response_model=VersionList, responses=problem_responses(401, 422), summary="Các phiên bản bộ tiêu chí"
)
def list_versions(
    session: SessionDep,
    principal: OptionalPrincipal,
    title: TitleCode | None = None,
    state: VersionState | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> VersionList:
    items, total = service.list_versions(session, principal, title=title, state=state, limit=limit, offset=offset)
    return VersionList(items=items, total=total)


@router.get(
    "/in-force",
    response_model=VersionDetail,
    responses=problem_responses(404, 422),
    summary="Phiên bản đang áp dụng cho một danh hiệu, tỉnh và ngày",
)
def in_force(
    session: SessionDep,
    title: TitleCode,
    province: Annotated[str | None, Query(pattern=r"^[0-9]{2}$", description="Mã tỉnh")] = None,
    on: Annotated[Day | None, Query(description="Ngày (mặc định hôm nay)")] = None,
    managing_level: Annotated[
        Literal["commune", "district", "province", "central"] | None,
        Query(description="Đơn vị học tập: cấp quản lý của cơ quan, đơn vị (TT 24/2023 cho cấp huyện, tỉnh)"),
    ] = None,
) -> VersionDetail:
    return service.detail(session, service.resolve(session, title, province, on or clock.today(), managing_level))


@router.get(
    "/diff",
    response_model=ChangeList,
    responses=problem_responses(401, 404, 422),
    summary="So sánh hai phiên bản, từng trường",
)
def diff_versions(
    session: SessionDep,
    principal: OptionalPrincipal,
    title: TitleCode,
    from_version: Annotated[str, Query(alias="from", pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")],
    to_version: Annotated[str, Query(alias="to", pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")],
) -> ChangeList:
    old = service.get_version(session, title, from_version, principal)
    new = service.get_version(session, title, to_version, principal)
    changes = service.diff(old, new)
    return ChangeList(items=changes, total=len(changes))


@router.get(
    "/versions/{title}/{version}",
    response_model=VersionDetail,
    responses=problem_responses(401, 404, 422),
    summary="Toàn văn một phiên bản",
)
def read_version(record: VersionDep, session: SessionDep) -> VersionDetail:
    return service.detail(session, record)


@router.post(
    "/versions",
    response_model=VersionSummary,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 413, 422),
    summary="Nạp một phiên bản (bản nháp) từ tệp YAML",
)
def upload_version(
    session: SessionDep,
    principal: AdminPrincipal,
    content: Annotated[str, Body(media_type="application/yaml", description="Nội dung tệp YAML (hoặc JSON)")],
) -> VersionSummary:
    if len(content.encode("utf-8")) > MAX_UPLOAD_BYTES:
        raise Problem(413, "payload_too_large", "Dữ liệu quá lớn", "Tệp tiêu chí tối đa 1 MB.")
    record, _ = service.save_draft(session, service.parse_upload(content), principal)
    return service.summary(session, record)


@router.post(
    "/versions/{title}/{version}/publish",
    dependencies=[Depends(require_roles(Role.ADMIN))],
    response_model=VersionSummary,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Công bố phiên bản nháp",
)
def publish_version(record: VersionDep, session: SessionDep, principal: AdminPrincipal) -> VersionSummary:
    return service.summary(session, service.publish(session, record, principal.id))


@router.post(
    "/versions/{title}/{version}/retire",
    dependencies=[Depends(require_roles(Role.ADMIN))],
    response_model=VersionSummary,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Ngừng áp dụng phiên bản",
)
def retire_version(record: VersionDep, session: SessionDep, principal: AdminPrincipal) -> VersionSummary:
    return service.summary(session, service.retire(session, record, principal))


@router.post(
    "/versions/{title}/{version}/evaluate",
    response_model=Result,
    responses=problem_responses(401, 404, 422),
    summary="Chấm thử: tính kết quả và giải trình cho một bộ câu trả lời (không lưu)",
)
def evaluate_version(record: VersionDep, body: EvaluationRequest) -> Result:
    return service.dry_run(record, body)
