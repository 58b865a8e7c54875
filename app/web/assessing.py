"""Assessment pages: the form generated from the criteria version in force with a live score
preview from the rule engine, filing, one assessment's page, and the review queue (four eyes)."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from app import clock
from app.assessments import service as assessments
from app.assessments.derived import compute
from app.assessments.models import Assessment, AssessmentState
from app.assessments.schemas import AssessmentCreate, Transition
from app.credentials.service import subject_names
from app.criteria.models import CriteriaVersionRecord
from app.criteria.service import model_of
from app.database import SessionDep
from app.exceptions import Problem
from app.params import MAX_DB_INT
from app.registry.service import visible_subject_unit
from app.reporting.locks import locked
from app.rules.model import TitleCode
from app.stats.report import TITLE_NAMES
from app.web import forms
from app.web.rendering import page
from app.web.sessions import CsrfChecked, Staff, StaffDep
from app.web.staff import errors_from, staff_page

router = APIRouter(include_in_schema=False)

Title = Annotated[TitleCode, Query()]
SubjectId = Annotated[int, Query(ge=1, le=MAX_DB_INT)]
Period = Annotated[int | None, Query(ge=2000, le=2100)]
PublicId = Annotated[str, Path(pattern=r"^[0-9a-fA-F-]{36}$")]


class FormContext:
    """What the form of one subject needs: the version in force, its model, the derived values."""

    def __init__(self, session, who: Staff, title: TitleCode, subject_id: int, period: int) -> None:
        self.title, self.subject_id, self.period = title, subject_id, period
        unit_id = visible_subject_unit(session, who.principal, title, subject_id)  # 404 outside jurisdiction
        self.reference_date = assessments.default_reference_date(period)
        self.record = assessments.version_in_force(
            session, title, subject_id, unit_id, self.reference_date, None, "query.period"
        )
        self.model = model_of(self.record)
        self.derived = compute(session, self.model, subject_id, self.reference_date)
        self.subject_name = subject_names(session, [(title.value, subject_id)]).get((title.value, subject_id), "")
        self.locked = locked(session, unit_id, period)  # the year's report is approved: filing is refused

    def render(self, who: Staff, *, group, answers, errors, others, client_id, status_code=200, preview=None):
        return staff_page(
            "staff/assessment_form.html",
            who,
            status_code=status_code,
            ctx=self,
            title_name=TITLE_NAMES[self.title],
            group=group,
            groups=self.model.subject_groups,
            sections=forms.sections(self.model, group, answers, self.derived, errors),
            others=others,
            error_count=len(errors) + len(others),
            client_id=client_id,
            preview=preview,
        )


def _period(period: int | None) -> int:
    return period or clock.today().year


@router.get("/can-bo/danh-gia/moi", response_class=HTMLResponse)
def new_assessment(
    session: SessionDep,
    who: StaffDep,
    title: Title,
    subject_id: SubjectId,
    period: Period = None,
    group: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    ctx = FormContext(session, who, title, subject_id, _period(period))
    groups = {g.id for g in ctx.model.subject_groups}
    if groups and group not in groups:
        return staff_page(
            "staff/assessment_group.html", who, ctx=ctx, title_name=TITLE_NAMES[title], groups=ctx.model.subject_groups
        )
    # The client id is made when the form is opened: sending it twice files it once.
    return ctx.render(who, group=group, answers={}, errors={}, others=[], client_id=str(uuid.uuid4()))


def _score(ctx: FormContext, group: str | None, answers: dict):
    """(result, errors by indicator, other errors, unanswered mandatory ids) of the engine on the
    form's answers."""
    try:
        return assessments.score_inputs(ctx.model, answers, group, [], ctx.derived), {}, [], set()
    except Problem as problem:
        return None, *forms.field_errors(problem.errors)


async def _read(request: Request, session, who: Staff) -> tuple[FormContext, dict, str | None, str]:
    form = {key: str(value) for key, value in (await request.form()).items()}
    try:
        title = TitleCode(form.get("title", ""))
        subject_id = forms.form_int(form, "subject_id", 1, MAX_DB_INT)
        period = forms.form_int(form, "period", 2000, 2100)
    except ValueError:
        raise Problem(
            422, "validation_failed", "Biểu mẫu không hợp lệ", "Thiếu danh hiệu, đối tượng hoặc năm."
        ) from None
    ctx = FormContext(session, who, title, subject_id, period)
    group = form.get("group") or None
    return ctx, forms.read_answers(ctx.model, group, form), group, form.get("client_id", "")


@router.post("/can-bo/danh-gia/xem-truoc", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def preview(request: Request, session: SessionDep, who: StaffDep) -> HTMLResponse:
    """The live score (htmx): the engine on what is filled in so far. Writes nothing."""
    ctx, answers, group, _ = await _read(request, session, who)
    result, errors, others, missing = _score(ctx, group, answers)
    labels = {indicator.id: indicator.label for indicator in ctx.model.indicators()}
    # What is merely not filled in yet is counted, not listed: the list is for real mistakes.
    errors = {key: message for key, message in errors.items() if key not in missing}
    return page("staff/_preview.html", result=result, errors=errors, others=others, labels=labels, missing=len(missing))


@router.post("/can-bo/danh-gia", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def file_assessment(request: Request, session: SessionDep, who: StaffDep):
    ctx, answers, group, client_id = await _read(request, session, who)
    try:
        body = AssessmentCreate(
            id=client_id,
            title=ctx.title,
            subject_id=ctx.subject_id,
            period=ctx.period,
            answers=answers,
            subject_group=group,
            submit=True,
        )
        row, _ = assessments.create_assessment(session, who.principal, body)
    except (ValidationError, Problem) as failed:
        if isinstance(failed, Problem) and failed.errors:
            by_indicator, others, _ = forms.field_errors(failed.errors)
        else:
            by_indicator, others = {}, errors_from(failed)
        return ctx.render(
            who,
            group=group,
            answers=answers,
            errors=by_indicator,
            others=others,
            client_id=client_id,
            status_code=422,
            preview=_score(ctx, group, answers)[0],
        )
    return RedirectResponse(f"/can-bo/danh-gia/{row.public_id}", status_code=303)


def _assessment(session, who: Staff, public_id: str) -> Assessment:
    return assessments.get_assessment(session, who.principal, public_id.lower())


@router.get("/can-bo/danh-gia/{public_id}", response_class=HTMLResponse)
def show_assessment(session: SessionDep, who: StaffDep, public_id: PublicId) -> HTMLResponse:
    row = _assessment(session, who, public_id)
    out = assessments.assessment_outs(session, [row])[0]
    model = model_of(session.get(CriteriaVersionRecord, row.criteria_version_id))
    answers = json.loads(row.answers)
    year_locked = locked(session, row.unit_id, row.period)
    may_review = (
        row.state == AssessmentState.SUBMITTED
        and who.principal.role in assessments.FILERS
        and (who.principal.is_admin or row.assessor_id != who.principal.id)
    )
    return staff_page(
        "staff/assessment.html",
        who,
        row=out,
        title_name=TITLE_NAMES[TitleCode(row.title)],
        subject_name=subject_names(session, [(row.title, row.subject_id)]).get((row.title, row.subject_id), ""),
        sections=forms.sections(model, row.subject_group, answers, json.loads(row.derived)),
        result=json.loads(row.result),
        may_review=may_review and not year_locked,
        locked=year_locked,
        own=row.assessor_id == who.principal.id,
        row_version=row.row_version,
    )


@router.post("/can-bo/danh-gia/{public_id}/chuyen", dependencies=[CsrfChecked])
async def move_assessment(request: Request, session: SessionDep, who: StaffDep, public_id: PublicId):
    row = _assessment(session, who, public_id)
    form = await request.form()
    action = str(form.get("action", ""))
    try:
        body = Transition(action=action, reason=str(form.get("reason", "")).strip() or None)
        # The revision the page showed: if someone changed it since, the service refuses (412).
        shown = f'"{row.public_id}.{str(form.get("row_version", ""))[:10]}"'
        assessments.transition(session, who.principal, row, body, shown)
    except (ValidationError, Problem) as failed:
        return page(
            "pages/error.html",
            status_code=failed.status if isinstance(failed, Problem) else 422,
            title="Không chuyển được bản đánh giá",
            detail="; ".join(message for _, message in errors_from(failed)),
        )
    return RedirectResponse(
        "/can-bo/tham-dinh" if action != "submit" else f"/can-bo/danh-gia/{public_id}", status_code=303
    )


@router.get("/can-bo/tham-dinh", response_class=HTMLResponse)
def review_queue(
    session: SessionDep,
    who: StaffDep,
    trang: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    items, total = assessments.list_assessments(
        session,
        who.principal,
        title=None,
        period=None,
        state=AssessmentState.SUBMITTED,
        subject_id=None,
        limit=50,
        offset=(trang - 1) * 50,
    )
    names = subject_names(session, [(item.title, item.subject_id) for item in items])
    return staff_page(
        "staff/review_queue.html",
        who,
        items=items,
        total=total,
        names=names,
        title_names=TITLE_NAMES,
        page_number=trang,
        pages=max(1, -(-total // 50)),
    )
