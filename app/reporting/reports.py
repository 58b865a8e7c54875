"""A unit's report for a period and its states (trạng thái báo cáo), bottom-up as in DHIS2's
data approval: a commune submits to its province, a province to the national level; the level
above approves or returns it with a reason, and only it may unlock an approved report (with a
reason). Every response says what the caller may do (`may_submit`, `may_approve`, …)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import clock
from app.audit.models import AuditEvent
from app.audit.service import record as audit
from app.auth.models import Role, User
from app.auth.principal import Principal
from app.exceptions import Conflict, Forbidden, NotFound, invalid_field
from app.reporting import figures
from app.reporting.models import ReportingDeadline, ReportingPeriod, ReportLevel, ReportState, UnitReport
from app.reporting.periods import deadline_for, level_of
from app.units.models import AdministrativeUnit, UnitAncestor, UnitLevel
from app.units.service import in_jurisdiction

STATE_NAMES = {
    ReportState.DRAFT: "Đang lập",
    ReportState.SUBMITTED: "Đã gửi, chờ duyệt",
    ReportState.RETURNED: "Bị trả lại, cần sửa",
    ReportState.APPROVED: "Đã duyệt (số liệu bị khóa)",
}
TIMELINESS_NAMES = {
    "on_time": "Đúng hạn",
    "late": "Gửi muộn",
    "missing": "Quá hạn, chưa gửi",
    "open": "Chưa gửi, còn hạn",
    "no_deadline": "Chưa có hạn",
}
ACTIONS = {"submit", "approve", "return", "unlock"}


@dataclass
class ReportView:
    """A report as read: the stored row (None while nobody has touched it: a draft)."""

    period: ReportingPeriod
    unit: AdministrativeUnit
    row: UnitReport | None
    deadline: ReportingDeadline | None

    @property
    def state(self) -> ReportState:
        return ReportState(self.row.state) if self.row else ReportState.DRAFT


def _in_province(session: Session, principal: Principal, unit: AdministrativeUnit) -> bool:
    return principal.role == Role.PROVINCE_OFFICER and in_jurisdiction(session, principal, unit.id)


def may_prepare(session: Session, principal: Principal, unit: AdministrativeUnit) -> bool:
    """Who prepares and submits a unit's report: the commune's officers, the province's officers
    for the province's report; administrators for any."""
    if principal.is_admin:
        return True
    if unit.level == UnitLevel.COMMUNE:
        return principal.role == Role.COMMUNE_OFFICER and in_jurisdiction(session, principal, unit.id)
    return principal.role == Role.PROVINCE_OFFICER and in_jurisdiction(session, principal, unit.id)


def may_judge(session: Session, principal: Principal, unit: AdministrativeUnit) -> bool:
    """Who approves, returns and unlocks: the level above — the province's officers for a
    commune; the national level (administrators) for a province."""
    if principal.is_admin:
        return True
    return unit.level == UnitLevel.COMMUNE and _in_province(session, principal, unit)


def may_read(session: Session, principal: Principal, unit: AdministrativeUnit) -> bool:
    return principal.is_admin or (
        principal.role in (Role.PROVINCE_OFFICER, Role.COMMUNE_OFFICER, Role.ASSESSOR)
        and in_jurisdiction(session, principal, unit.id)
    )


def capabilities(session: Session, principal: Principal, view: ReportView) -> dict[str, bool]:
    prepare, judge, state = (
        may_prepare(session, principal, view.unit),
        may_judge(session, principal, view.unit),
        view.state,
    )
    return {
        "may_edit": prepare and state in (ReportState.DRAFT, ReportState.RETURNED),
        "may_submit": prepare and state in (ReportState.DRAFT, ReportState.RETURNED),
        "may_approve": judge and state == ReportState.SUBMITTED,
        "may_return": judge and state == ReportState.SUBMITTED,
        "may_unlock": judge and state == ReportState.APPROVED,
    }


def timeliness(state: ReportState, submitted_at, deadline: ReportingDeadline | None, today: date) -> str:
    """on_time / late for a report sent (submitted or approved), by the day it was last sent;
    missing (the deadline has passed) / open for one not sent."""
    sent = state in (ReportState.SUBMITTED, ReportState.APPROVED)
    if deadline is None:
        return "on_time" if sent else "no_deadline"
    if sent:
        return "on_time" if clock.local_date(submitted_at) <= deadline.due_on else "late"
    return "missing" if today > deadline.due_on else "open"


def view(session: Session, principal: Principal, period: ReportingPeriod, unit: AdministrativeUnit) -> ReportView:
    level_of(unit)  # only communes and provinces report
    if not may_read(session, principal, unit):
        raise NotFound("Không tìm thấy báo cáo của đơn vị này trong phạm vi của tài khoản.")
    row = session.scalar(select(UnitReport).where(UnitReport.period_id == period.id, UnitReport.unit_id == unit.id))
    return ReportView(period, unit, row, deadline_for(session, period, unit))


def current_figures(session: Session, report: ReportView) -> dict:
    """Frozen numbers of a sent report; live ones of a draft (a province's: the sum of its
    communes' approved reports)."""
    if report.row is not None and report.row.figures is not None:
        return json.loads(report.row.figures)
    if report.unit.level == UnitLevel.COMMUNE:
        return figures.unit_figures(session, report.unit, report.period)
    approved = approved_figures(session, report.period, report.unit)
    return {
        "as_of": figures.as_of(report.period).isoformat(),
        "counted_at": clock.now().isoformat(),
        **figures.consolidate(approved, figures.live_targets(session, report.unit, report.period)),
    }


def approved_figures(session: Session, period: ReportingPeriod, above: AdministrativeUnit | None) -> list[dict]:
    """The frozen figures of the approved reports one level below: a province's communes, or
    (`above` None: the national level) the provinces."""
    query = select(UnitReport.figures).where(
        UnitReport.period_id == period.id, UnitReport.state == ReportState.APPROVED
    )
    if above is None:
        query = query.where(UnitReport.level == ReportLevel.PROVINCE)
    else:
        below = select(UnitAncestor.unit_id).where(UnitAncestor.ancestor_id == above.id)
        query = query.where(UnitReport.level == ReportLevel.COMMUNE, UnitReport.unit_id.in_(below))
    rows = session.scalars(query)
    return [json.loads(text) for text in rows if text]


def typed_values(report: ReportView) -> dict:
    return json.loads(report.row.typed) if report.row is not None else {}


def _row(session: Session, report: ReportView) -> UnitReport:
    """The stored row, created on the first write (reads never write)."""
    if report.row is None:
        report.row = UnitReport(
            period_id=report.period.id, unit_id=report.unit.id, level=level_of(report.unit), state=ReportState.DRAFT
        )
        try:
            with session.begin_nested():
                session.add(report.row)
                session.flush()
        except IntegrityError:
            raise Conflict("Báo cáo vừa được người khác lập; hãy tải lại.", code="report_changed") from None
    return report.row


def set_typed(session: Session, principal: Principal, report: ReportView, values: dict[str, dict]) -> None:
    """Values the registry cannot know, each with its source; only while the report is open."""
    if not may_prepare(session, principal, report.unit):
        raise Forbidden(_who_may("submit", report.unit).replace("gửi", "lập"))
    if not capabilities(session, principal, report)["may_edit"]:
        raise Conflict(_not_editable(report), code="report_not_editable")
    for key in values:
        if key not in figures.TYPED_FIELDS:
            raise invalid_field(f"fields.{key}", "unknown_field", "Trường này không có trong báo cáo.")
    row = _row(session, report)
    before = json.loads(row.typed)
    after = {**before, **{key: value for key, value in values.items() if value is not None}}
    for key, value in values.items():
        if value is None:
            after.pop(key, None)
    row.typed = json.dumps(after, ensure_ascii=False, sort_keys=True)
    session.flush()
    audit(session, principal, "set_fields", "unit_report", row.id, {"typed": before}, {"typed": after})


def _not_editable(report: ReportView) -> str:
    if report.state == ReportState.APPROVED:
        return "Báo cáo đã được duyệt nên đã khóa; cấp trên có thể mở khóa (nêu lý do)."
    if report.state == ReportState.SUBMITTED:
        return "Báo cáo đã gửi, đang chờ duyệt; không sửa được."
    return "Báo cáo này không sửa được."


def transition(session: Session, principal: Principal, report: ReportView, action: str, reason: str | None) -> None:
    allowed = capabilities(session, principal, report)
    if action not in ACTIONS:
        raise invalid_field("action", "unknown_action", "Hành động phải là submit, approve, return hoặc unlock.")
    if not allowed[f"may_{action}"]:
        judge = may_judge(session, principal, report.unit)
        prepare = may_prepare(session, principal, report.unit)
        if (action == "submit" and not prepare) or (action != "submit" and not judge):
            raise Forbidden(_who_may(action, report.unit))
        raise Conflict(
            f"Báo cáo đang ở trạng thái “{STATE_NAMES[report.state]}”: không thể {_ACTION_VERBS[action]}.",
            code="report_state",
        )
    reason = (reason or "").strip()
    if action in ("return", "unlock") and len(reason) < 3:
        raise invalid_field("reason", "reason_required", "Cần nêu lý do (ít nhất 3 ký tự).")
    row = _row(session, report)
    # Taken with a row lock, so two officers acting at once cannot both move the same state.
    locked = session.scalar(select(UnitReport).where(UnitReport.id == row.id).with_for_update())
    if locked.state != report.state:
        raise Conflict("Báo cáo vừa được người khác xử lý; hãy tải lại.", code="report_changed")
    before = {"state": locked.state}
    now = clock.now()
    if action == "submit":
        frozen = current_figures(session, ReportView(report.period, report.unit, None, report.deadline))
        frozen["typed"] = json.loads(locked.typed)
        locked.figures = json.dumps(frozen, ensure_ascii=False)
        locked.state, locked.submitted_at, locked.submitted_by_id, locked.reason = (
            ReportState.SUBMITTED,
            now,
            principal.id or None,
            None,
        )
    elif action == "approve":
        locked.state, locked.decided_at, locked.decided_by_id = ReportState.APPROVED, now, principal.id or None
    else:  # return, unlock: back to the commune to fix, with the reason; its numbers live again
        locked.state, locked.reason, locked.figures = ReportState.RETURNED, reason, None
        locked.decided_at, locked.decided_by_id = now, principal.id or None
    session.flush()
    audit(
        session,
        principal,
        action,
        "unit_report",
        locked.id,
        before,
        {"state": locked.state},
        period=f"{report.period.year}:{report.period.kind}",
        unit=report.unit.code,
        reason=reason or None,
    )
    report.row = locked


_ACTION_VERBS = {"submit": "gửi", "approve": "duyệt", "return": "trả lại", "unlock": "mở khóa"}


def _who_may(action: str, unit: AdministrativeUnit) -> str:
    if action == "submit":
        who = "cán bộ cấp xã của xã" if unit.level == UnitLevel.COMMUNE else "cán bộ cấp tỉnh của tỉnh"
        return f"Chỉ {who} (hoặc quản trị viên) gửi báo cáo này."
    who = "cán bộ cấp tỉnh của tỉnh" if unit.level == UnitLevel.COMMUNE else "cấp trung ương (quản trị viên)"
    return f"Chỉ {who} được {_ACTION_VERBS[action]} báo cáo này."


def history(session: Session, report: ReportView) -> list[dict]:
    """The report's transitions and edits, from the audit log, oldest first."""
    if report.row is None:
        return []
    events = session.execute(
        select(AuditEvent, User.username)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.entity == "unit_report", AuditEvent.entity_id == report.row.id)
        .order_by(AuditEvent.id)
    )
    return [
        {"action": event.action, "at": event.at, "by": username, "reason": json.loads(event.detail).get("reason")}
        for event, username in events
    ]
