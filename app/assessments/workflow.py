"""The procedure a criteria version switches on with its `workflow` block (TT 25/2023 for the
commune title, docs/commune-title.md): the assessed year's reference day, the days a dossier may
be submitted, the last day of the decision and who records it, the wait between levels.

`flow_of` is the one reader of that block; a version without it gets none of these checks, so
every other title keeps the common rules of app/assessments/service.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import clock
from app.assessments.models import Assessment, Decision, Recognition
from app.audit.models import AuditEvent
from app.auth.models import Role
from app.auth.principal import Principal
from app.criteria.models import CriteriaVersionRecord
from app.criteria.service import model_of, resolve
from app.exceptions import FieldError, Forbidden, NotFound, Problem, invalid_field
from app.rules import CriteriaVersion
from app.rules.dates import add_months, month_day
from app.rules.model import Deadline
from app.units.models import AdministrativeUnit, UnitAncestor, UnitLevel
from app.units.service import in_jurisdiction, province_code_of

# Who records a decision, and revokes what it recognised, by the level the version names.
DECIDERS_AT: dict[str, tuple[Role, ...]] = {
    "commune": (Role.ADMIN, Role.COMMUNE_OFFICER),
    "province": (Role.ADMIN, Role.PROVINCE_OFFICER),
}


@dataclass(frozen=True)
class Flow:
    """A workflow version's days for one assessed year (`period`); every bound is included."""

    period: int
    reference_date: date  # the last day of the data window: the assessment's only reference date
    submit_from: date  # the day after it: dossiers open
    dossier: Deadline | None
    submit_by: date | None
    decision: Deadline | None
    decide_by: date | None
    decided_by_level: str
    next_level_after_months: int | None
    levels: dict[str, tuple[int, str]]  # level id: (rank, label)


def flow_of(model: CriteriaVersion, period: int) -> Flow | None:
    """The days of `model`'s workflow for the assessed year `period`; None without a workflow."""
    workflow = model.workflow
    if workflow is None:
        return None
    procedure = model.procedure
    deadlines = {deadline.id: deadline for deadline in procedure.deadlines} if procedure else {}
    end = procedure.data_to if procedure is not None and procedure.data_to is not None else None
    reference_date = month_day(period, end.month, end.day) if end else date(period, 12, 31)

    def deadline(deadline_id: str | None) -> tuple[Deadline | None, date | None]:
        if deadline_id is None:
            return None, None
        found = deadlines[deadline_id]  # the loader checked that the id exists
        return found, month_day(period + found.years_after_period, found.by.month, found.by.day)

    dossier, submit_by = deadline(workflow.dossier_deadline)
    decision, decide_by = deadline(workflow.decision_deadline)
    return Flow(
        period=period,
        reference_date=reference_date,
        submit_from=reference_date + timedelta(days=1),
        dossier=dossier,
        submit_by=submit_by,
        decision=decision,
        decide_by=decide_by,
        decided_by_level=workflow.decided_by_level,
        next_level_after_months=workflow.next_level_after_months,
        levels={level.id: (level.rank, level.label) for level in model.levels},
    )


def _version_flow(session: Session, version_id: int, period: int) -> Flow | None:
    return flow_of(model_of(session.get(CriteriaVersionRecord, version_id)), period)


def _where(deadline: Deadline | None) -> str:
    return f" ({deadline.reference})" if deadline is not None and deadline.reference else ""


# --- filing and submitting ----------------------------------------------------------------------


def check_filing(
    model: CriteriaVersion, period: int, reference_date: date, *, reference_given: bool, submit: bool
) -> None:
    """An assessment under a workflow version covers the whole data window: it is dated on the
    window's last day (so it can be filed from that day on) and submitted only in the window."""
    flow = flow_of(model, period)
    if flow is None:
        return
    if reference_date != flow.reference_date:
        if clock.today() < flow.reference_date:
            raise invalid_field(
                "body.reference_date" if reference_given else "body.period",
                "period_not_over",
                f"Bản tự đánh giá năm {period} tính số liệu đến hết ngày {flow.reference_date:%d/%m/%Y}: chỉ lập được "
                f"từ ngày đó, và gửi hồ sơ từ ngày {flow.submit_from:%d/%m/%Y}.",
            )
        raise invalid_field(
            "body.reference_date",
            "reference_date_fixed",
            f"Ngày tham chiếu của bản tự đánh giá năm {period} là {flow.reference_date:%d/%m/%Y}, ngày cuối của thời "
            "gian tính số liệu; bỏ trống trường này hoặc ghi đúng ngày đó.",
        )
    if submit:
        _check_submission(flow, "body.submit")


def check_submission(session: Session, assessment: Assessment, version_id: int, field: str) -> None:
    """Submitting (nộp: sending the dossier) `assessment` today, scored under `version_id`."""
    flow = _version_flow(session, version_id, assessment.period)
    if flow is not None:
        _check_submission(flow, field)


def _check_submission(flow: Flow, field: str) -> None:
    today = clock.today()
    label = flow.dossier.label if flow.dossier else "Gửi hồ sơ đề nghị công nhận"
    if today < flow.submit_from:
        raise invalid_field(
            field,
            "dossier_not_open",
            f"“{label}” của năm đánh giá {flow.period}: từ ngày {flow.submit_from:%d/%m/%Y}, sau khi hết thời gian "
            f"tính số liệu (ngày {flow.reference_date:%d/%m/%Y}). Hôm nay là {today:%d/%m/%Y}: chưa gửi được.",
        )
    if flow.submit_by is not None and today > flow.submit_by:
        raise invalid_field(
            field,
            "dossier_late",
            f"“{label}” của năm đánh giá {flow.period}: từ ngày {flow.submit_from:%d/%m/%Y} đến hết ngày "
            f"{flow.submit_by:%d/%m/%Y}{_where(flow.dossier)}. Hôm nay là {today:%d/%m/%Y}: đã quá hạn.",
        )


# --- deciding -----------------------------------------------------------------------------------


def decision_flow(session: Session, title: str, commune: AdministrativeUnit, period: int) -> Flow | None:
    """The workflow of the version in force for `title` in the commune's province on the last
    day of the assessed year: the version its assessments were filed under."""
    try:
        record = resolve(session, title, province_code_of(session, commune.id), date(period, 12, 31))
    except NotFound:
        return None
    return flow_of(model_of(record), period)


def recognition_flow(session: Session, recognition: Recognition) -> Flow | None:
    return _version_flow(session, recognition.criteria_version_id, recognition.period)


def issuer_of(session: Session, commune: AdministrativeUnit, flow: Flow | None) -> AdministrativeUnit:
    """The unit that issues the decision (Decision.unit_id): the commune, or its province."""
    if flow is None or flow.decided_by_level == "commune":
        return commune
    return session.scalar(
        select(AdministrativeUnit)
        .join(UnitAncestor, UnitAncestor.ancestor_id == AdministrativeUnit.id)
        .where(UnitAncestor.unit_id == commune.id, AdministrativeUnit.level == UnitLevel.PROVINCE)
    )


def require_decider(session: Session, principal: Principal, unit_id: int, flow: Flow | None) -> None:
    """The caller may record (or revoke) the decision on a subject of `unit_id`: by its role at
    the level that decides, and its jurisdiction over the unit."""
    level = flow.decided_by_level if flow is not None else "commune"
    if principal.role in DECIDERS_AT[level] and in_jurisdiction(session, principal, unit_id):
        return
    if level == "commune":
        raise Forbidden("Tài khoản không được thực hiện thao tác này ở đơn vị này.")
    raise Forbidden(
        f"Danh hiệu này (năm đánh giá {flow.period}) do cấp tỉnh công nhận: chỉ cán bộ cấp tỉnh của tỉnh có đơn vị "
        "này (hoặc quản trị viên) được ghi hoặc thu hồi quyết định công nhận."
    )


def decision_problem(errors: list[FieldError]) -> Problem:
    several = "Quyết định không đúng quy trình công nhận; xem danh sách errors."
    detail = errors[0].message if len(errors) == 1 else several
    return Problem(422, "validation_failed", "Dữ liệu không hợp lệ", detail, errors=errors)


def decision_errors(
    session: Session, flow: Flow, decided_on: date, rows: list[tuple[str, Assessment]]
) -> list[FieldError]:
    """Why a decision dated `decided_on` cannot recognise these assessments (each named by its
    field) under the workflow: its last day, the submissions it must follow, the level waits."""
    errors = []
    if flow.decide_by is not None and decided_on > flow.decide_by:
        label = flow.decision.label if flow.decision else "Quyết định công nhận"
        errors.append(
            FieldError(
                field="body.decided_on",
                code="decision_late",
                message=f"Ngày quyết định {decided_on:%d/%m/%Y} quá hạn “{label}” của năm đánh giá {flow.period}: "
                f"chậm nhất ngày {flow.decide_by:%d/%m/%Y}{_where(flow.decision)}.",
            )
        )
    submitted = submission_days(session, [row for _, row in rows])
    latest = max(((submitted[row.id], row.public_id) for _, row in rows), default=None)
    if latest is not None and decided_on < latest[0]:
        errors.append(
            FieldError(
                field="body.decided_on",
                code="before_submission",
                message=f"Ngày quyết định {decided_on:%d/%m/%Y} trước ngày gửi hồ sơ ({latest[0]:%d/%m/%Y}) của bản "
                f"đánh giá {latest[1]}: quyết định chỉ công nhận hồ sơ đã gửi.",
            )
        )
    if flow.next_level_after_months is not None:
        for field, row in rows:
            message = _level_wait(session, flow, row, decided_on)
            if message is not None:
                errors.append(FieldError(field=field, code="level_too_early", message=message))
    return errors


def submission_days(session: Session, rows: list[Assessment]) -> dict[int, date]:
    """The day each row was submitted: its last `submit` in the audit log, or, for a row that was
    created submitted (filed with submit, or a re-scored revision), the day it was created."""
    submits = dict(
        session.execute(
            select(AuditEvent.entity_id, func.max(AuditEvent.at))
            .where(
                AuditEvent.entity == "assessment",
                AuditEvent.action == "submit",
                AuditEvent.entity_id.in_([row.id for row in rows]),
            )
            .group_by(AuditEvent.entity_id)
        ).all()
    )
    return {row.id: clock.local_date(submits.get(row.id) or row.created_at) for row in rows}


def _level_wait(session: Session, flow: Flow, row: Assessment, decided_on: date) -> str | None:
    """Why `row`'s level cannot be recognised yet (None if it can): a level above the lowest needs
    a recognition of the subject at the level below (or higher), not revoked, decided at least
    `next_level_after_months` months before."""
    rank, label = flow.levels.get(row.level or "", (None, None))
    below = [(r, name) for r, name in flow.levels.values() if rank is not None and r < rank]
    if not below:
        return None
    lower_rank, lower_label = max(below)
    months = flow.next_level_after_months
    held = session.execute(
        select(Recognition.level, Decision.decided_on)
        .join(Decision, Decision.id == Recognition.decision_id)
        .where(
            Recognition.title == row.title,
            Recognition.subject_id == row.subject_id,
            Recognition.revoked_on.is_(None),
            Decision.decided_on <= decided_on,
        )
    ).all()
    first = min((day for level, day in held if flow.levels.get(level or "", (0, ""))[0] >= lower_rank), default=None)
    rule = (
        f"Bản đánh giá đạt {label}; {label} chỉ được công nhận khi đã được công nhận {lower_label} (hoặc cao hơn) "
        f"ít nhất {months} tháng, tính theo ngày quyết định."
    )
    if first is None:
        return f"{rule} Chưa có quyết định công nhận {lower_label} nào (chưa thu hồi) đến ngày {decided_on:%d/%m/%Y}."
    earliest = add_months(first, months)
    if decided_on >= earliest:
        return None
    return (
        f"{rule} Công nhận {lower_label} theo quyết định ngày {first:%d/%m/%Y}: ngày quyết định phải từ "
        f"{earliest:%d/%m/%Y}, không phải {decided_on:%d/%m/%Y}."
    )
