"""Decision pages of commune officers: the batch decision (number, date, signer) over reviewed
assessments, its page with the printed decision and certificates, revocation with a reason, and
the annual report download."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from app import clock
from app.assessments import service as assessments
from app.assessments.models import Assessment, AssessmentState, Decision, Recognition
from app.assessments.schemas import DecisionCreate
from app.credentials import documents
from app.credentials import service as credentials
from app.credentials.models import Credential
from app.database import SessionDep
from app.exceptions import Forbidden, NotFound, Problem
from app.params import IdPath
from app.registry.service import within
from app.rules.model import TitleCode
from app.stats import report
from app.stats.report import TITLE_NAMES
from app.text import iso_day
from app.units.models import AdministrativeUnit
from app.units.service import get_unit, in_jurisdiction
from app.web import forms
from app.web.sessions import CsrfChecked, Staff, StaffDep
from app.web.staff import errors_from, my_units, staff_page

router = APIRouter(include_in_schema=False)
Title = Annotated[TitleCode, Query()]
Year = Annotated[int, Query(ge=2000, le=2100)]


def _decider(who: Staff) -> None:
    if who.principal.role not in assessments.DECIDERS:
        raise Forbidden("Chỉ cán bộ cấp xã (hoặc quản trị viên) ra quyết định công nhận.")


def _ready(session, who: Staff, title: TitleCode, period: int) -> list[Assessment]:
    """Reviewed, passing assessments of a title and year in the caller's units."""
    return list(
        session.scalars(
            select(Assessment)
            .where(
                within(who.principal, Assessment.unit_id),
                Assessment.title == title,
                Assessment.period == period,
                Assessment.state == AssessmentState.REVIEWED,
                Assessment.status == "dat",
            )
            .order_by(Assessment.id)
            .limit(500)
        )
    )


def _decision_form(session, who: Staff, title: TitleCode, period: int, *, values: dict, errors: list, status_code=200):
    ready = _ready(session, who, title, period)
    names = credentials.subject_names(session, [(a.title, a.subject_id) for a in ready])
    communes = [u for u in my_units(session, who) if u.level == "commune"]
    return staff_page(
        "staff/decision_new.html",
        who,
        status_code=status_code,
        title=title,
        title_name=TITLE_NAMES[title],
        titles=TITLE_NAMES,
        period=period,
        ready=ready,
        names=names,
        communes=communes,
        values=values,
        errors=errors,
        today=clock.today(),
    )


@router.get("/can-bo/quyet-dinh/moi", response_class=HTMLResponse)
def new_decision(session: SessionDep, who: StaffDep, title: Title = TitleCode.CITIZEN, period: Year | None = None):
    _decider(who)
    return _decision_form(session, who, title, period or clock.today().year, values={}, errors=[])


@router.post("/can-bo/quyet-dinh", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def decide(request: Request, session: SessionDep, who: StaffDep):
    _decider(who)
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() for name in ("commune_code", "number", "decided_on", "signer")}
    typed = {**values, "decided_on": iso_day(values["decided_on"]) or ""}
    try:
        title, period = TitleCode(str(form.get("title"))), forms.form_int(form, "period", 2000, 2100)
    except ValueError:
        raise Problem(422, "validation_failed", "Biểu mẫu không hợp lệ", "Thiếu danh hiệu hoặc năm.") from None
    try:
        body = DecisionCreate(
            **typed, title=title, period=period, assessment_ids=[str(v) for v in form.getlist("assessment_ids")]
        )
        decision = assessments.create_decision(session, who.principal, body)
        signing = request.app.state.credential_signing
        credentials.issue_for_decision(session, signing.keys, signing.base_url, who.principal, decision)
    except (ValidationError, Problem) as failed:
        return _decision_form(session, who, title, period, values=values, errors=errors_from(failed), status_code=422)
    return RedirectResponse(f"/can-bo/quyet-dinh/{decision.id}", status_code=303)


def _decision(session, who: Staff, decision_id: int) -> Decision:
    return assessments.get_decision(session, who.principal, decision_id)


DecisionId = IdPath


@router.get("/can-bo/quyet-dinh/{decision_id}", response_class=HTMLResponse)
def show_decision(session: SessionDep, who: StaffDep, decision_id: DecisionId):
    decision = _decision(session, who, decision_id)
    facts = credentials.recognition_facts(session, Recognition.decision_id == decision.id)
    codes = credentials.codes_of(session, [f.recognition_id for f in facts])
    return staff_page(
        "staff/decision.html",
        who,
        decision=decision,
        commune=session.get(AdministrativeUnit, decision.unit_id),
        facts=facts,
        codes=codes,
        title_name=TITLE_NAMES[TitleCode(decision.title)],
        may_decide=who.principal.role in assessments.DECIDERS,
    )


@router.get("/can-bo/quyet-dinh/{decision_id}/van-ban.pdf")
def decision_pdf(session: SessionDep, who: StaffDep, decision_id: DecisionId) -> Response:
    decision = _decision(session, who, decision_id)
    return _pdf(documents.pdf(documents.decision_document(session, decision)), f"quyet-dinh-{decision.id}.pdf")


def _pdf(content: bytes, name: str) -> Response:
    headers = {"Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "private, no-store"}
    return Response(content, media_type="application/pdf", headers=headers)


@router.get("/can-bo/giay/{code}.pdf")
def certificate_pdf(
    request: Request,
    session: SessionDep,
    who: StaffDep,
    code: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{16}$")],
    size: Annotated[Literal["a4", "a5"], Query()] = "a4",
) -> Response:
    credential = session.scalar(
        select(Credential)
        .join(Recognition, Recognition.id == Credential.recognition_id)
        .where(Credential.code == code, within(who.principal, Recognition.unit_id))
    )
    if credential is None:
        raise NotFound("Không tìm thấy giấy công nhận.")
    base_url = request.app.state.credential_signing.base_url
    html = documents.certificate_document(session, base_url, code, credential.recognition_id, size)
    return _pdf(documents.pdf(html), f"giay-cong-nhan-{code}-{size}.pdf")


@router.post("/can-bo/cong-nhan/{recognition_id}/thu-hoi", dependencies=[CsrfChecked])
async def revoke(
    request: Request,
    session: SessionDep,
    who: StaffDep,
    recognition_id: IdPath,
):
    recognition = assessments.get_recognition(session, who.principal, recognition_id)
    reason = str((await request.form()).get("reason", "")).strip()
    if len(reason) < 3:
        raise Problem(422, "validation_failed", "Cần nêu lý do", "Thu hồi danh hiệu cần ghi lý do (ít nhất 3 ký tự).")
    assessments.revoke(session, who.principal, recognition, reason)
    return RedirectResponse(f"/can-bo/quyet-dinh/{recognition.decision_id}", status_code=303)


@router.get("/can-bo/bao-cao")
def annual_report(
    session: SessionDep,
    who: StaffDep,
    unit: Annotated[str, Query(pattern=r"^[0-9]{2,5}$")],
    year: Year,
    format: Annotated[Literal["xlsx", "csv"], Query()] = "xlsx",
) -> Response:
    target = get_unit(session, unit, min(date(year, 12, 31), clock.today()))
    if not in_jurisdiction(session, who.principal, target.id):
        raise Forbidden("Đơn vị này không thuộc phạm vi quản lý của tài khoản.")
    return report.download(session, target, year, format)
