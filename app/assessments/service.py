"""Assessments from filing to decision, recognitions, and the title status of a subject.

Submissions are idempotent and append-only: the client names each submission with its own id;
the same id with the same body answers the original, a different body under it is refused; a
correction is a new revision that supersedes the old one. Each revision is pinned to the
criteria version (and its content hash) it was scored under.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from functools import cache

from pydantic import BaseModel
from sqlalchemy import Integer, bindparam, exists, func, literal, null, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from app import clock
from app.assessments import workflow
from app.assessments.derived import compute
from app.assessments.models import Assessment, AssessmentState, Decision, Recognition
from app.assessments.predicates import state_on
from app.assessments.schemas import (
    AnswersIn,
    AssessmentCreate,
    AssessmentOut,
    AssessmentRevise,
    DecisionCreate,
    DecisionOut,
    Evidence,
    RecognitionOut,
    TitleStatus,
    Transition,
)
from app.audit.service import record as audit
from app.audit.service import snapshot
from app.auth.models import Role
from app.auth.principal import Principal
from app.credentials import service as credentials
from app.criteria.models import CriteriaVersionRecord
from app.criteria.service import answers_problem, model_of, resolve
from app.exceptions import Conflict, FieldError, Forbidden, NotFound, Problem, invalid_field
from app.registry.models import Organisation, Registration
from app.registry.service import subject_unit, within
from app.reporting.locks import require_open
from app.rules import AnswersInvalid, CriteriaVersion, EvaluationContext, Result, TitleCode, evaluate
from app.rules.dates import add_months
from app.rules.model import RecognitionPeriod
from app.units.models import AdministrativeUnit, UnitAncestor, UnitLevel
from app.units.service import in_jurisdiction, province_code_of, require_current_or_writable, unit_named

FILERS = (Role.ADMIN, Role.ASSESSOR, Role.COMMUNE_OFFICER)
# Who decides titles recognised by the commune; a version's workflow may name the province instead.
DECIDERS = workflow.DECIDERS_AT["commune"]


def etag(assessment: Assessment) -> str:
    return f'"{assessment.public_id}.{assessment.row_version}"'


def check_if_match(assessment: Assessment, if_match: str | None) -> None:
    if if_match is None:
        raise Problem(
            428,
            "precondition_required",
            "Thiếu điều kiện",
            "Cần gửi tiêu đề If-Match với ETag của bản đang sửa, để không ghi đè thay đổi của người khác.",
        )
    if if_match.strip() not in ("*", etag(assessment)):
        raise Problem(
            412,
            "precondition_failed",
            "Dữ liệu đã thay đổi",
            "Bản ghi đã được người khác thay đổi từ lần bạn tải về. Hãy tải lại rồi thực hiện lại.",
        )


def _canonical(value):
    """The same submission written two ways hashes the same: 9.0 is 9."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return value


def _body_hash(body: BaseModel) -> str:
    document = _canonical(body.model_dump(mode="json"))
    if isinstance(document.get("id"), str):
        document["id"] = document["id"].lower()  # ids are compared in lower case
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _require_filer(session: Session, principal: Principal, unit_id: int, roles=FILERS) -> None:
    if principal.role not in roles or not in_jurisdiction(session, principal, unit_id):
        raise Forbidden("Tài khoản không được thực hiện thao tác này ở đơn vị này.")


def default_reference_date(period: int) -> date:
    return min(date(period, 12, 31), clock.today())


def score_inputs(
    model: CriteriaVersion, answers: dict, subject_group: str | None, unit_groups: Iterable[str], derived: dict
) -> Result:
    """The engine on an assessment's inputs (`derived` as compute() gives them). Answers that
    do not fit the version are a 422 naming the fields of an assessment's body."""
    context = EvaluationContext(subject_group=subject_group, unit_groups=frozenset(unit_groups))
    try:
        return evaluate(model, answers, {key: item["value"] for key, item in derived.items()}, context)
    except AnswersInvalid as invalid:
        # The subject group and unit groups travel at the top of an assessment's body.
        raise answers_problem(invalid, context_field="body.") from None


def _score(
    session: Session, version: CriteriaVersionRecord, subject_id: int, reference_date: date, body: AnswersIn
) -> tuple[Result, dict]:
    model = model_of(version)
    derived = compute(session, model, subject_id, reference_date)
    return score_inputs(model, body.answers, body.subject_group, body.unit_groups, derived), derived


def _replay(existing: Assessment, body_hash: str) -> Assessment:
    if existing.request_hash != body_hash:
        raise Conflict(f"Mã {existing.public_id} đã được dùng cho một nội dung khác.", code="idempotency_conflict")
    return existing


def _new_row(public_id: str, body_hash: str, result: Result, derived: dict, body: AnswersIn, **fields) -> Assessment:
    return Assessment(
        public_id=public_id,
        request_hash=body_hash,
        subject_group=body.subject_group,
        unit_groups=json.dumps(sorted(body.unit_groups)),
        answers=json.dumps(body.answers, sort_keys=True),
        evidence=json.dumps([e.model_dump() for e in body.evidence]),
        derived=json.dumps(derived, sort_keys=True),
        result=result.model_dump_json(),
        status=result.status,
        total=Decimal(str(result.total)),
        level=result.level,
        state=AssessmentState.SUBMITTED if body.submit else AssessmentState.DRAFT,
        **fields,
    )


def _next_revision(
    current: Assessment,
    public_id: str,
    body_hash: str,
    result: Result,
    derived: dict,
    body: AnswersIn,
    version: CriteriaVersionRecord,
    assessor_id: int | None,
) -> Assessment:
    """A new revision of `current` (same chain, subject, period, unit and reference date)."""
    return _new_row(
        public_id,
        body_hash,
        result,
        derived,
        body,
        chain_id=current.chain_id,
        revision=current.revision + 1,
        supersedes_id=current.id,
        title=current.title,
        subject_id=current.subject_id,
        period=current.period,
        unit_id=current.unit_id,
        reference_date=current.reference_date,
        criteria_version_id=version.id,
        criteria_content_hash=version.content_hash,
        assessor_id=assessor_id,
    )


def _by_public_id(session: Session, public_id: str) -> Assessment | None:
    return session.scalar(select(Assessment).where(Assessment.public_id == public_id.lower()))


def _reference_date(body: AssessmentCreate) -> date:
    """The day derived indicators are counted on: given, or 31 December of the period (today if
    the period is the current year). It lies in the period's year and not in the future (the
    schema refuses a future day and a period that has not begun)."""
    if body.reference_date is None:
        return default_reference_date(body.period)
    if body.reference_date.year != body.period:
        raise invalid_field(
            "body.reference_date",
            "outside_period",
            f"Ngày tham chiếu phải thuộc năm {body.period} của kỳ đánh giá.",
        )
    return body.reference_date


def _managing_level(session: Session, title: str, subject_id: int) -> str | None:
    """An organisation's managing level picks its criteria (TT 24/2023 above the commune)."""
    if title != TitleCode.UNIT:
        return None
    return session.scalar(select(Organisation.managing_level).where(Organisation.id == subject_id))


def version_in_force(
    session: Session, title: str, subject_id: int, unit_id: int, on: date, named: str | None, date_field: str
) -> CriteriaVersionRecord:
    """The criteria version in force for the title, the subject's province and the reference
    date: the only one an assessment may be filed under. A body naming another version is
    refused (422 on `criteria_version`, saying which version is in force); scoring open
    assessments under another version is the explicit re-scoring operation."""
    province = province_code_of(session, unit_id)
    try:
        version = resolve(session, title, province, on, _managing_level(session, title, subject_id))
    except NotFound as missing:
        raise invalid_field(date_field, "no_criteria_in_force", missing.detail) from None
    if named is not None and named != version.version_id:
        raise invalid_field(
            "body.criteria_version",
            "not_in_force",
            f"Phiên bản {named} không phải phiên bản đang áp dụng cho danh hiệu này tại tỉnh {province} vào ngày "
            f"{on:%d/%m/%Y}; phiên bản đang áp dụng là {version.version_id}. Bỏ trống trường này để dùng phiên bản đó.",
        )
    return version


def create_assessment(session: Session, principal: Principal, body: AssessmentCreate) -> tuple[Assessment, bool]:
    public_id, body_hash = body.id.lower(), _body_hash(body)
    existing = _by_public_id(session, public_id)
    if existing is not None:
        if not in_jurisdiction(session, principal, existing.unit_id):
            raise Conflict("Mã này đã được dùng.", code="idempotency_conflict")
        return _replay(existing, body_hash), False
    unit_id = subject_unit(session, body.title, body.subject_id)
    _require_filer(session, principal, unit_id)
    require_open(session, unit_id, body.period)
    reference_date = _reference_date(body)
    date_field = "body.reference_date" if body.reference_date else "body.period"
    version = version_in_force(
        session, body.title, body.subject_id, unit_id, reference_date, body.criteria_version, date_field
    )
    workflow.check_filing(
        model_of(version),
        body.period,
        reference_date,
        reference_given=body.reference_date is not None,
        submit=body.submit,
    )
    result, derived = _score(session, version, body.subject_id, reference_date, body)
    assessment = _new_row(
        public_id,
        body_hash,
        result,
        derived,
        body,
        chain_id=public_id,
        revision=1,
        title=body.title,
        subject_id=body.subject_id,
        period=body.period,
        unit_id=unit_id,
        reference_date=reference_date,
        criteria_version_id=version.id,
        criteria_content_hash=version.content_hash,
        assessor_id=principal.id or None,
    )
    try:
        with session.begin_nested():
            session.add(assessment)
            session.flush()
    except IntegrityError:  # the same id sent twice at once: the first one won
        winner = _by_public_id(session, public_id)
        if winner is None:
            raise
        return _replay(winner, body_hash), False
    audit(
        session,
        principal,
        "create",
        "assessment",
        assessment.id,
        None,
        snapshot(assessment),
        state=assessment.state,
        status=assessment.status,
    )
    session.flush()
    return assessment, True


def get_assessment(session: Session, principal: Principal, public_id: str) -> Assessment:
    assessment = session.scalar(
        select(Assessment).where(Assessment.public_id == public_id.lower(), within(principal, Assessment.unit_id))
    )
    if assessment is None:
        raise NotFound("Không tìm thấy bản đánh giá.")
    return assessment


def revise(
    session: Session, principal: Principal, current: Assessment, body: AssessmentRevise, if_match: str | None
) -> tuple[Assessment, bool]:
    """A corrected revision: a new row that supersedes `current`, scored under the same version."""
    public_id, body_hash = body.id.lower(), _body_hash(body)
    # Scope first: a replay answers only a caller who may write this assessment, and only
    # with a revision of this same assessment, never one of another (perhaps another
    # commune's) that happens to carry the id.
    _require_filer(session, principal, current.unit_id)
    existing = _by_public_id(session, public_id)
    if existing is not None:
        if existing.supersedes_id != current.id:
            raise Conflict(f"Mã {existing.public_id} đã được dùng cho một bản ghi khác.", code="idempotency_conflict")
        return _replay(existing, body_hash), False
    check_if_match(current, if_match)
    require_open(session, current.unit_id, current.period)
    if current.state not in AssessmentState.open_states():
        raise Conflict("Chỉ sửa được bản đánh giá chưa có quyết định và chưa bị thay thế.", code="not_open")
    version = session.get(CriteriaVersionRecord, current.criteria_version_id)
    if body.submit:
        workflow.check_submission(session, current, version.id, "body.submit")
    result, derived = _score(session, version, current.subject_id, current.reference_date, body)
    before = snapshot(current)
    revision = _next_revision(current, public_id, body_hash, result, derived, body, version, principal.id or None)
    try:
        with session.begin_nested():
            current.state = AssessmentState.SUPERSEDED
            current.row_version += 1
            session.add(revision)
            session.flush()
    except IntegrityError:  # another revision of the same assessment, or this id, won the race
        winner = _by_public_id(session, public_id)
        if winner is not None and winner.supersedes_id == current.id:
            return _replay(winner, body_hash), False
        raise Problem(
            412,
            "precondition_failed",
            "Dữ liệu đã thay đổi",
            "Bản ghi vừa được người khác sửa. Hãy tải lại rồi thực hiện lại.",
        ) from None
    audit(session, principal, "supersede", "assessment", current.id, before, snapshot(current))
    audit(
        session,
        principal,
        "create",
        "assessment",
        revision.id,
        None,
        snapshot(revision),
        supersedes=current.public_id,
        state=revision.state,
        status=revision.status,
    )
    session.flush()
    return revision, True


_TRANSITIONS = {
    "submit": ((AssessmentState.DRAFT, AssessmentState.RETURNED), AssessmentState.SUBMITTED),
    "review": ((AssessmentState.SUBMITTED,), AssessmentState.REVIEWED),
    "return": ((AssessmentState.SUBMITTED, AssessmentState.REVIEWED), AssessmentState.RETURNED),
}


def transition(
    session: Session,
    principal: Principal,
    assessment: Assessment,
    body: Transition,
    if_match: str | None,
    reviewed_on: date | None = None,
) -> Assessment:
    """`reviewed_on`: the day a review was done on paper, for an import of past years (a
    decision cannot be dated before the review); otherwise the review is recorded now."""
    _require_filer(session, principal, assessment.unit_id)
    check_if_match(assessment, if_match)
    require_open(session, assessment.unit_id, assessment.period)
    if reviewed_on is not None and not date(assessment.period, 1, 1) <= reviewed_on <= clock.today():
        raise invalid_field(
            "body.reviewed_on",
            "outside_period",
            f"Ngày thẩm định phải từ 01/01/{assessment.period} (năm đánh giá) đến hôm nay.",
        )
    sources, target = _TRANSITIONS[body.action]
    if assessment.state not in sources:
        raise Conflict(
            f"Không thể '{body.action}' bản đánh giá đang ở trạng thái {assessment.state}.", code="invalid_transition"
        )
    if body.action == "review" and not principal.is_admin and assessment.assessor_id == principal.id:
        raise Forbidden("Người thẩm định phải khác người lập bản đánh giá.")
    if body.action == "submit":
        workflow.check_submission(session, assessment, assessment.criteria_version_id, "body.action")
    if body.action == "return" and not body.reason:
        raise Problem(
            422,
            "validation_failed",
            "Dữ liệu không hợp lệ",
            "Trả lại cần nêu lý do.",
            errors=[FieldError(field="body.reason", code="missing", message="Trường này là bắt buộc.")],
        )
    before = snapshot(assessment)
    assessment.state = target
    assessment.row_version += 1
    if body.action == "review":
        assessment.reviewed_by_id = principal.id or None
        assessment.reviewed_at = clock.start_of(reviewed_on) if reviewed_on else clock.now()
    assessment.return_reason = body.reason if body.action == "return" else None
    assessment.updated_at = clock.now()
    audit(
        session,
        principal,
        body.action,
        "assessment",
        assessment.id,
        before,
        snapshot(assessment),
        state=target,
        reason=body.reason,
    )
    session.flush()
    return assessment


def assessment_outs(session: Session, rows: list[Assessment]) -> list[AssessmentOut]:
    """Output models for a page of assessments, with three batched look-ups."""
    if not rows:
        return []
    units = dict(
        session.execute(
            select(AdministrativeUnit.id, AdministrativeUnit.code).where(
                AdministrativeUnit.id.in_({r.unit_id for r in rows})
            )
        ).all()
    )
    versions = dict(
        session.execute(
            select(CriteriaVersionRecord.id, CriteriaVersionRecord.version_id).where(
                CriteriaVersionRecord.id.in_({r.criteria_version_id for r in rows})
            )
        ).all()
    )
    older = aliased(Assessment)
    supersedes = dict(
        session.execute(
            select(Assessment.id, older.public_id)
            .join(older, older.id == Assessment.supersedes_id)
            .where(Assessment.id.in_([r.id for r in rows]))
        ).all()
    )
    superseded_by = dict(
        session.execute(
            select(Assessment.supersedes_id, Assessment.public_id).where(
                Assessment.supersedes_id.in_([r.id for r in rows])
            )
        ).all()
    )
    return [
        AssessmentOut(
            id=r.public_id,
            chain_id=r.chain_id,
            revision=r.revision,
            supersedes=supersedes.get(r.id),
            superseded_by=superseded_by.get(r.id),
            title=r.title,
            subject_id=r.subject_id,
            period=r.period,
            unit_code=units[r.unit_id],
            reference_date=r.reference_date,
            criteria_version=versions[r.criteria_version_id],
            criteria_content_hash=r.criteria_content_hash,
            subject_group=r.subject_group,
            unit_groups=json.loads(r.unit_groups),
            answers=json.loads(r.answers),
            evidence=[Evidence(**e) for e in json.loads(r.evidence)],
            derived=json.loads(r.derived),
            state=r.state,
            return_reason=r.return_reason,
            status=r.status,
            total=float(r.total),
            level=r.level,
            result=Result.model_validate_json(r.result),
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
        for r in rows
    ]


def list_assessments(
    session: Session,
    principal: Principal,
    *,
    title: TitleCode | None,
    period: int | None,
    state: str | None,
    subject_id: int | None,
    limit: int,
    offset: int,
) -> tuple[list[AssessmentOut], int]:
    query = select(Assessment).where(within(principal, Assessment.unit_id))
    if title:
        query = query.where(Assessment.title == title)
    if period:
        query = query.where(Assessment.period == period)
    if state:
        query = query.where(Assessment.state == state)
    if subject_id:
        query = query.where(Assessment.subject_id == subject_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(session.scalars(query.order_by(Assessment.id.desc()).limit(limit).offset(offset)))
    return assessment_outs(session, rows), total


# --- decisions and recognitions -----------------------------------------------------------------


def valid_until(period: RecognitionPeriod, decided_on: date) -> date:
    """The first day a recognition no longer holds: `months` after the decision, or after the end
    of the decision's year where the text keeps the result "trong thời hạn 3 năm (36 tháng) tiếp
    theo năm được công nhận" (TT 25/2023): decided on 20/3/2026, it holds through 31/12/2029."""
    if period.starts == "year_after_decision":
        return add_months(date(decided_on.year + 1, 1, 1), period.months)
    return add_months(decided_on, period.months)


def _decision_errors(
    session: Session, body: DecisionCreate, commune: AdministrativeUnit, ids: list[str], rows: dict[str, Assessment]
) -> list[FieldError]:
    """Why each named assessment cannot be recognised by this decision, field by field."""
    under_commune = set(session.scalars(select(UnitAncestor.unit_id).where(UnitAncestor.ancestor_id == commune.id)))
    in_force: dict[tuple[str, int, int, date], int | None] = {}
    errors = []
    latest_review: tuple[date, str] | None = None
    for index, public_id in enumerate(ids):
        field, row = f"body.assessment_ids.{index}", rows.get(public_id)
        if row is None or row.unit_id not in under_commune:
            errors.append(
                FieldError(
                    field=field,
                    code="unknown_assessment",
                    message=f"Không có bản đánh giá {public_id} của {commune.name}.",
                )
            )
            continue
        if row.state != AssessmentState.REVIEWED:
            message = f"Bản đánh giá đang ở trạng thái {row.state}, chưa được thẩm định."
            errors.append(FieldError(field=field, code="not_reviewed", message=message))
        elif row.status != "dat":
            errors.append(FieldError(field=field, code="not_passed", message="Bản đánh giá có kết quả không đạt."))
        elif (row.title, row.period) != (body.title, body.period):
            message = f"Bản đánh giá thuộc danh hiệu {row.title} năm {row.period}."
            errors.append(FieldError(field=field, code="other_title_or_period", message=message))
        else:
            key = (row.title, row.subject_id, row.unit_id, row.reference_date)
            if key not in in_force:
                try:
                    in_force[key] = version_in_force(
                        session, row.title, row.subject_id, row.unit_id, row.reference_date, None, field
                    ).id
                except Problem:
                    in_force[key] = None
            if in_force[key] != row.criteria_version_id:
                message = (
                    "Bản đánh giá được chấm theo một phiên bản tiêu chí không áp dụng vào ngày tham chiếu của nó; "
                    "hãy chấm lại (/assessment-rescorings) trước khi công nhận."
                )
                errors.append(FieldError(field=field, code="criteria_not_in_force", message=message))
            if row.reviewed_at is not None:
                reviewed_on = clock.local_date(row.reviewed_at)
                if latest_review is None or reviewed_on > latest_review[0]:
                    latest_review = (reviewed_on, public_id)
    if len(set(ids)) != len(ids):
        errors.append(
            FieldError(field="body.assessment_ids", code="duplicate", message="Một bản đánh giá ghi hai lần.")
        )
    if body.decided_on.year < body.period:
        message = f"Quyết định công nhận danh hiệu năm {body.period} không thể ban hành trước năm {body.period}."
        errors.append(FieldError(field="body.decided_on", code="before_period", message=message))
    elif latest_review is not None and body.decided_on < latest_review[0]:
        message = (
            f"Ngày quyết định trước ngày thẩm định ({latest_review[0]:%d/%m/%Y}) của bản đánh giá {latest_review[1]}: "
            "quyết định chỉ công nhận những gì đã được thẩm định."
        )
        errors.append(FieldError(field="body.decided_on", code="before_review", message=message))
    return errors


def create_decision(session: Session, principal: Principal, body: DecisionCreate) -> Decision:
    """Record a decision recognising a batch of reviewed assessments of a commune, all or none:
    the commune's own, or its province's where the title's version says the province decides."""
    commune = unit_named(session, body.commune_code, body.decided_on, "body.commune_code")
    if commune.level != UnitLevel.COMMUNE:
        raise invalid_field(
            "body.commune_code",
            "wrong_unit_level",
            f"{commune.name} không phải cấp xã.",
            "Quyết định công nhận ghi theo xã có các đối tượng được công nhận.",
        )
    require_current_or_writable(session, principal, commune, "body.commune_code", body.decided_on)
    # The version's workflow may have the province decide (the commune title since 01/7/2025).
    flow = workflow.decision_flow(session, body.title, commune, body.period)
    workflow.require_decider(session, principal, commune.id, flow)
    issuer = workflow.issuer_of(session, commune, flow)
    require_open(session, commune.id, body.period)
    ids = [i.lower() for i in body.assessment_ids]
    rows = {a.public_id: a for a in session.scalars(select(Assessment).where(Assessment.public_id.in_(ids)))}
    errors = _decision_errors(session, body, commune, ids, rows)
    if errors:
        raise Problem(
            422, "validation_failed", "Dữ liệu không hợp lệ", "Một số bản đánh giá không công nhận được.", errors=errors
        )
    if flow is not None:
        # Checked once every row is known to be this commune's: the errors name no other commune's data.
        named = [(f"body.assessment_ids.{index}", rows[public_id]) for index, public_id in enumerate(ids)]
        if refused := workflow.decision_errors(session, flow, body.decided_on, named):
            raise workflow.decision_problem(refused)
    held = session.scalars(
        select(Recognition.subject_id).where(
            Recognition.title == body.title,
            Recognition.period == body.period,
            Recognition.subject_id.in_([row.subject_id for row in rows.values()]),
        )
    )
    if held := list(held):
        raise Conflict(
            f"Đối tượng mã {', '.join(map(str, held))} đã được công nhận danh hiệu này năm {body.period}.",
            code="already_recognised",
        )
    if session.scalar(select(Decision.id).where(Decision.unit_id == issuer.id, Decision.number == body.number)):
        raise Conflict(f"{issuer.name} đã có quyết định số {body.number}.", code="decision_number_taken")
    try:
        with session.begin_nested():
            decision = _record_decision(session, principal, body, issuer, [rows[public_id] for public_id in ids])
    except IntegrityError:  # a concurrent decision took one of these subjects or the number
        raise Conflict(
            "Một bản đánh giá hoặc số quyết định vừa được dùng ở nơi khác. Hãy thử lại.", code="already_recognised"
        ) from None
    return decision


def _record_decision(
    session: Session, principal: Principal, body: DecisionCreate, issuer: AdministrativeUnit, rows: list[Assessment]
) -> Decision:
    decision = Decision(
        unit_id=issuer.id,
        number=body.number,
        decided_on=body.decided_on,
        signer=body.signer,
        title=body.title,
        period=body.period,
        created_by_id=principal.id or None,
    )
    session.add(decision)
    session.flush()
    for row in rows:
        period = model_of(session.get(CriteriaVersionRecord, row.criteria_version_id)).recognition_period
        recognition = Recognition(
            title=row.title,
            subject_id=row.subject_id,
            period=row.period,
            unit_id=row.unit_id,
            decision_id=decision.id,
            assessment_id=row.id,
            criteria_version_id=row.criteria_version_id,
            level=row.level,
            valid_from=body.decided_on,
            valid_until=valid_until(period, body.decided_on),
        )
        before = snapshot(row)
        row.state = AssessmentState.DECIDED
        row.row_version += 1
        session.add(recognition)
        session.flush()
        audit(session, principal, "decide", "assessment", row.id, before, snapshot(row), decision=body.number)
        audit(
            session,
            principal,
            "create",
            "recognition",
            recognition.id,
            None,
            snapshot(recognition),
            decision=body.number,
        )
    audit(session, principal, "create", "decision", decision.id, None, snapshot(decision), number=body.number)
    session.flush()
    return decision


def _recognition_rows(session: Session, condition) -> list[RecognitionOut]:
    rows = session.execute(
        select(
            Recognition, Decision.number, Decision.decided_on, AdministrativeUnit.code, CriteriaVersionRecord.version_id
        )
        .join(Decision, Decision.id == Recognition.decision_id)
        .join(AdministrativeUnit, AdministrativeUnit.id == Recognition.unit_id)
        .join(CriteriaVersionRecord, CriteriaVersionRecord.id == Recognition.criteria_version_id)
        .where(condition)
        .order_by(Recognition.id)
    ).all()
    codes = credentials.codes_of(session, [r.id for r, *_ in rows])
    return [
        RecognitionOut(
            id=r.id,
            title=r.title,
            subject_id=r.subject_id,
            period=r.period,
            unit_code=code,
            decision_number=number,
            decided_on=decided_on,
            criteria_version=version,
            level=r.level,
            valid_from=r.valid_from,
            valid_until=r.valid_until,
            revoked_at=r.revoked_at,
            revoked_on=r.revoked_on,
            revoked_reason=r.revoked_reason,
            credentials=codes.get(r.id, []),
        )
        for r, number, decided_on, code, version in rows
    ]


def decision_out(session: Session, decision: Decision) -> DecisionOut:
    issuer = session.get(AdministrativeUnit, decision.unit_id)
    recognitions = _recognition_rows(session, Recognition.decision_id == decision.id)
    return DecisionOut(
        id=decision.id,
        # A province's decision recognises communes (their own units): the commune of the request.
        commune_code=issuer.code if issuer.level != UnitLevel.PROVINCE else recognitions[0].unit_code,
        issuer_code=issuer.code,
        number=decision.number,
        decided_on=decision.decided_on,
        signer=decision.signer,
        title=decision.title,
        period=decision.period,
        recognitions=recognitions,
    )


def get_decision(session: Session, principal: Principal, decision_id: int) -> Decision:
    # A province's decision is also the business of the communes it recognises.
    recognised_here = exists().where(Recognition.decision_id == Decision.id, within(principal, Recognition.unit_id))
    decision = session.scalar(
        select(Decision).where(Decision.id == decision_id, within(principal, Decision.unit_id) | recognised_here)
    )
    if decision is None:
        raise NotFound("Không tìm thấy quyết định.")
    return decision


def list_recognitions(
    session: Session, principal: Principal, *, title: TitleCode | None, period: int | None, limit: int, offset: int
) -> tuple[list[RecognitionOut], int]:
    condition = within(principal, Recognition.unit_id)
    if title:
        condition = condition & (Recognition.title == title)
    if period:
        condition = condition & (Recognition.period == period)
    total = session.scalar(select(func.count()).select_from(Recognition).where(condition)) or 0
    ids = select(Recognition.id).where(condition).order_by(Recognition.id).limit(limit).offset(offset)
    return _recognition_rows(session, Recognition.id.in_(ids)), total


def get_recognition(session: Session, principal: Principal, recognition_id: int) -> Recognition:
    recognition = session.scalar(
        select(Recognition).where(Recognition.id == recognition_id, within(principal, Recognition.unit_id))
    )
    if recognition is None:
        raise NotFound("Không tìm thấy quyết định công nhận.")
    return recognition


def revoke(session: Session, principal: Principal, recognition: Recognition, reason: str) -> RecognitionOut:
    workflow.require_decider(session, principal, recognition.unit_id, workflow.recognition_flow(session, recognition))
    require_open(session, recognition.unit_id, recognition.period)
    if recognition.revoked_at is not None:
        raise Conflict("Danh hiệu này đã bị thu hồi.", code="already_revoked")
    before = snapshot(recognition)
    recognition.revoked_at = clock.now()
    recognition.revoked_on = clock.local_date(recognition.revoked_at)
    recognition.revoked_reason = reason.strip()
    recognition.revoked_by_id = principal.id or None
    audit(
        session,
        principal,
        "revoke",
        "recognition",
        recognition.id,
        before,
        snapshot(recognition),
        reason=recognition.revoked_reason,
    )
    # The status lists change in this transaction: no moment where the title is revoked and its
    # credentials still verify.
    credentials.revoke_recognition(session, recognition)
    session.flush()
    return _recognition_rows(session, Recognition.id == recognition.id)[0]


# --- status of a subject ------------------------------------------------------------------------


def status_of(session: Session, title: TitleCode, subject_id: int, as_of: date) -> list[TitleStatus]:
    """Every period of a subject's title, in one indexed UNION query (no ORM loading)."""
    return status_items(title, session.execute(status_query(title), {"subject_id": subject_id}).all(), as_of)


@cache
def status_query(title: TitleCode):
    """The UNION of the recognitions, pending assessments and registrations of the subject
    `:subject_id`, ranked. Built once per title: the lookups run it all day."""
    subject_id = bindparam("subject_id", type_=Integer)
    recognitions = (
        select(
            literal(3).label("rank"),
            Recognition.period,
            Recognition.valid_from,
            Recognition.valid_until,
            Recognition.revoked_on,
            Recognition.revoked_reason,
            Decision.number,
            Decision.decided_on,
            CriteriaVersionRecord.version_id,
            Recognition.level,
        )
        .join(Decision, Decision.id == Recognition.decision_id)
        .join(CriteriaVersionRecord, CriteriaVersionRecord.id == Recognition.criteria_version_id)
        .where(Recognition.title == title, Recognition.subject_id == subject_id)
    )
    pending = (
        select(
            literal(2),
            Assessment.period,
            null(),
            null(),
            null(),
            null(),
            null(),
            null(),
            CriteriaVersionRecord.version_id,
            Assessment.level,
        )
        .join(CriteriaVersionRecord, CriteriaVersionRecord.id == Assessment.criteria_version_id)
        .where(
            Assessment.title == title,
            Assessment.subject_id == subject_id,
            Assessment.state.in_((AssessmentState.SUBMITTED, AssessmentState.REVIEWED)),
        )
    )
    registered = select(
        literal(1), Registration.year, null(), null(), null(), null(), null(), null(), null(), null()
    ).where(Registration.title == title, Registration.subject_id == subject_id)
    return union_all(recognitions, pending, registered)


def status_items(title: TitleCode, rows, as_of: date) -> list[TitleStatus]:
    """Per period, the strongest of what `status_query` found, with its state on `as_of`."""
    best: dict[int, tuple] = {}
    for row in rows:
        if row[1] not in best or row[0] > best[row[1]][0]:
            best[row[1]] = row
    items = []
    for period in sorted(best, reverse=True):
        rank, _, valid_from, valid_until, revoked_on, reason, number, decided_on, version, level = best[period]
        if rank == 3:
            state = state_on(as_of, valid_from, valid_until, revoked_on)
        else:
            state = "pending" if rank == 2 else "registered"
        items.append(
            TitleStatus(
                title=title,
                period=period,
                state=state,
                valid_from=valid_from,
                valid_until=valid_until,
                decision_number=number,
                decided_on=decided_on,
                criteria_version=version,
                level=level,
                revoked_reason=reason if state == "revoked" else None,
            )
        )
    return items or [TitleStatus(title=title, period=None, state="none")]


# --- re-scoring under a new version: app/assessments/rescoring.py ---------------------------------
