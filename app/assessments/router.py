"""Assessments, decisions, recognitions and the title status of a subject."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status

from app import clock
from app.assessments import lookups, rescoring, service
from app.assessments.models import Assessment, AssessmentState, Decision, Recognition
from app.assessments.schemas import (
    AssessmentCreate,
    AssessmentList,
    AssessmentOut,
    AssessmentRevise,
    DecisionCreate,
    DecisionOut,
    RecognitionList,
    RecognitionOut,
    RescoreItemList,
    RescoreRequest,
    RescoreRun,
    Revocation,
    TitleCheckItem,
    TitleCheckRequest,
    TitleCheckResult,
    TitleStatusList,
    Transition,
)
from app.auth.dependencies import CurrentPrincipal, lookup_principal, require_roles
from app.auth.models import Role
from app.auth.principal import Principal
from app.credentials import service as credentials
from app.credentials.dependencies import SigningDep
from app.database import SessionDep
from app.exceptions import problem_responses
from app.params import Day, IdPath, Limit, Offset
from app.privacy.dependencies import PersonReadsDep
from app.privacy.router import AccessPurpose
from app.privacy.service import clean_purpose
from app.registry.service import READERS
from app.rules import TitleCode
from app.security import ratelimit
from app.security.client import client_address

router = APIRouter(
    tags=["assessments"], responses=problem_responses(401, 403, 422), dependencies=[Depends(require_roles(*READERS))]
)
status_router = APIRouter(tags=["assessments"], responses=problem_responses(401, 403, 404, 422))

AssessmentId = Annotated[
    str, Path(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
]


def assessment_in_scope(assessment_id: AssessmentId, session: SessionDep, principal: CurrentPrincipal) -> Assessment:
    """Path dependency: the assessment, inside the caller's jurisdiction (404 otherwise)."""
    return service.get_assessment(session, principal, assessment_id)


def decision_in_scope(decision_id: IdPath, session: SessionDep, principal: CurrentPrincipal) -> Decision:
    """Path dependency: the decision, inside the caller's jurisdiction (404 otherwise)."""
    return service.get_decision(session, principal, decision_id)


def recognition_in_scope(recognition_id: IdPath, session: SessionDep, principal: CurrentPrincipal) -> Recognition:
    """Path dependency: the recognition, inside the caller's jurisdiction (404 otherwise)."""
    return service.get_recognition(session, principal, recognition_id)


AssessmentDep = Annotated[Assessment, Depends(assessment_in_scope)]
RecognitionDep = Annotated[Recognition, Depends(recognition_in_scope)]
DecisionDep = Annotated[Decision, Depends(decision_in_scope)]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="ETag của bản đang sửa")]
Period = Annotated[int | None, Query(ge=2000, le=2100)]


def _one(session, row, response: Response, created: bool) -> AssessmentOut:
    response.headers["ETag"] = service.etag(row)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return service.assessment_outs(session, [row])[0]


@router.post(
    "/assessments",
    response_model=AssessmentOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        **problem_responses(404, 409),
        200: {"description": "Đã có (gửi lại cùng mã, cùng nội dung)", "model": AssessmentOut},
    },
    summary="Nộp một bản đánh giá (idempotent theo mã do máy khách tạo)",
)
def create_assessment(
    session: SessionDep, principal: CurrentPrincipal, body: AssessmentCreate, response: Response
) -> AssessmentOut:
    row, created = service.create_assessment(session, principal, body)
    return _one(session, row, response, created)


@router.get("/assessments", response_model=AssessmentList, summary="Các bản đánh giá trong phạm vi quản lý")
def list_assessments(
    session: SessionDep,
    principal: CurrentPrincipal,
    reads: PersonReadsDep,
    title: TitleCode | None = None,
    period: Period = None,
    state: AssessmentState | None = None,
    subject_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
    purpose: AccessPurpose = None,
) -> AssessmentList:
    items, total = service.list_assessments(
        session, principal, title=title, period=period, state=state, subject_id=subject_id, limit=limit, offset=offset
    )
    citizens = [item.subject_id for item in items if item.title == TitleCode.CITIZEN]
    reads.log(citizens, "assessments", purpose)
    return AssessmentList(items=items, total=total)


@router.post(
    "/assessment-rescorings",
    response_model=RescoreRun,
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(409),
    summary="Chấm lại các bản đánh giá đang mở theo một phiên bản tiêu chí khác (chạy nền, theo lô)",
)
def start_rescoring(
    request: Request, session: SessionDep, principal: CurrentPrincipal, body: RescoreRequest, response: Response
) -> RescoreRun:
    """Makes a run and queues it; progress: GET /assessment-rescorings/{id}, results: …/items."""
    run = rescoring.start(session, principal, body)
    response.headers["Location"] = request.url_for("read_rescoring", run_id=str(run.id)).path
    return rescoring.run_out(session, run)


@router.get(
    "/assessment-rescorings/{run_id}",
    name="read_rescoring",
    response_model=RescoreRun,
    responses=problem_responses(404),
    summary="Một lần chấm lại và tiến độ của nó",
)
def read_rescoring(session: SessionDep, principal: CurrentPrincipal, run_id: IdPath) -> RescoreRun:
    return rescoring.run_out(session, rescoring.get_run(session, principal, run_id))


@router.get(
    "/assessment-rescorings/{run_id}/items",
    response_model=RescoreItemList,
    responses=problem_responses(404),
    summary="Kết quả chấm lại từng bản đánh giá của một lần chấm lại (theo trang)",
)
def rescoring_items(
    session: SessionDep, principal: CurrentPrincipal, run_id: IdPath, limit: Limit = 50, offset: Offset = 0
) -> RescoreItemList:
    run = rescoring.get_run(session, principal, run_id)
    page, total = rescoring.items(session, run, limit=limit, offset=offset)
    return RescoreItemList(items=page, total=total)


@router.get(
    "/assessments/{assessment_id}",
    response_model=AssessmentOut,
    responses=problem_responses(404),
    summary="Một bản đánh giá (có ETag)",
)
def read_assessment(
    session: SessionDep,
    principal: CurrentPrincipal,
    reads: PersonReadsDep,
    assessment: AssessmentDep,
    response: Response,
    purpose: AccessPurpose = None,
) -> AssessmentOut:
    if assessment.title == TitleCode.CITIZEN:  # a person's own assessment is part of the person's record
        reads.log([assessment.subject_id], "assessment", purpose)
    return _one(session, assessment, response, created=False)


@router.post(
    "/assessments/{assessment_id}/revisions",
    response_model=AssessmentOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(404, 409, 412, 428),
    summary="Sửa: tạo bản mới thay thế bản hiện tại (cần If-Match)",
)
def revise(
    session: SessionDep,
    principal: CurrentPrincipal,
    current: AssessmentDep,
    body: AssessmentRevise,
    response: Response,
    if_match: IfMatch = None,
) -> AssessmentOut:
    row, created = service.revise(session, principal, current, body, if_match)
    return _one(session, row, response, created)


@router.post(
    "/assessments/{assessment_id}/transitions",
    response_model=AssessmentOut,
    responses=problem_responses(404, 409, 412, 428),
    summary="Nộp, thẩm định hoặc trả lại (cần If-Match)",
)
def transition(
    session: SessionDep,
    principal: CurrentPrincipal,
    assessment: AssessmentDep,
    body: Transition,
    response: Response,
    if_match: IfMatch = None,
) -> AssessmentOut:
    return _one(session, service.transition(session, principal, assessment, body, if_match), response, created=False)


@router.post(
    "/decisions",
    response_model=DecisionOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(404, 409),
    summary="Ghi quyết định công nhận cho một loạt bản đánh giá",
)
def create_decision(
    session: SessionDep, principal: CurrentPrincipal, signing: SigningDep, body: DecisionCreate
) -> DecisionOut:
    """Each recognition gets its signed credential in the same transaction (codes in
    `recognitions[].credentials`)."""
    decision = service.create_decision(session, principal, body)
    credentials.issue_for_decision(session, signing.keys, signing.base_url, principal, decision)
    return service.decision_out(session, decision)


@router.get(
    "/decisions/{decision_id}",
    response_model=DecisionOut,
    responses=problem_responses(404),
    summary="Một quyết định công nhận",
)
def read_decision(session: SessionDep, decision: DecisionDep) -> DecisionOut:
    return service.decision_out(session, decision)


@router.get("/recognitions", response_model=RecognitionList, summary="Các danh hiệu đã công nhận")
def list_recognitions(
    session: SessionDep,
    principal: CurrentPrincipal,
    title: TitleCode | None = None,
    period: Period = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> RecognitionList:
    items, total = service.list_recognitions(session, principal, title=title, period=period, limit=limit, offset=offset)
    return RecognitionList(items=items, total=total)


@router.post(
    "/recognitions/{recognition_id}/revoke",
    response_model=RecognitionOut,
    responses=problem_responses(404, 409),
    summary="Thu hồi danh hiệu (cần lý do; bản ghi được giữ)",
)
def revoke(
    session: SessionDep, principal: CurrentPrincipal, recognition: RecognitionDep, body: Revocation
) -> RecognitionOut:
    return service.revoke(session, principal, recognition, body.reason)


@status_router.get(
    "/subjects/{kind}/{subject_id}/titles",
    response_model=TitleStatusList,
    summary="Danh hiệu của một đối tượng: đang hiệu lực, hết hạn, thu hồi, chờ, đã đăng ký",
)
async def subject_titles(
    request: Request,
    principal: Annotated[Principal, Depends(lookup_principal(*READERS, Role.PORTAL_CLIENT))],
    kind: Literal["person", "household", "clan", "community", "organisation", "commune", "district", "province"],
    subject_id: IdPath,
    as_of: Annotated[Day | None, Query(description="Ngày tra cứu (mặc định hôm nay)")] = None,
    purpose: AccessPurpose = None,
) -> TitleStatusList:
    """Served on the asyncio engine (app/assessments/lookups.py): ward portals ask all day."""
    day = as_of or clock.today()
    items = await lookups.title_status(request.app.state.async_engine, principal, kind, subject_id, day)
    if kind == "person":
        request.app.state.access_log.record(principal.id or None, [subject_id], "titles", clean_purpose(purpose))
    return TitleStatusList(subject_kind=kind, subject_id=subject_id, as_of=day, items=items, total=len(items))


title_check_router = APIRouter(tags=["public"])


@title_check_router.post(
    "/title-checks",
    response_model=TitleCheckResult,
    responses=problem_responses(422, 429),
    summary="Tra cứu danh hiệu của chính mình bằng số CCCD và ngày sinh (công khai, giới hạn tần suất)",
)
async def title_check(request: Request, body: TitleCheckRequest) -> TitleCheckResult:
    """Only titles, years and states: never a name, an address or a household. An unknown
    number and a wrong date of birth answer alike. Limits (docs/privacy.md): per network (an
    IPv4 address or an IPv6 /64) per minute and per day, and per national ID and network per
    day, every request counted, so guessing a birth date is bounded while a stranger elsewhere
    cannot lock the owner out. Nothing is written to the database."""
    settings = request.app.state.settings
    ids = request.app.state.national_ids
    limiter: ratelimit.RateLimiter = request.app.state.rate_limiter
    network = ratelimit.network_of(client_address(request))
    await limiter.enforce_async(
        ratelimit.per_minute("title-check", settings.title_check_per_address_per_minute), network
    )
    await limiter.enforce_async(ratelimit.per_day("title-check-day", settings.title_check_per_address_per_day), network)
    number = body.national_id.get_secret_value()
    per_id = ratelimit.per_day("title-check-id", settings.title_check_per_id_per_network_per_day)
    await limiter.enforce_async(per_id, ids.digest(number)[:32], network)
    engine = request.app.state.async_engine
    rows = await lookups.public_title_check(engine, ids, number, body.birth_date, request.app.state.rekey)
    items = [
        TitleCheckItem(title=row.title, year=row.period, state=row.state, valid_until=row.valid_until) for row in rows
    ]
    return TitleCheckResult(items=items, total=len(items))
