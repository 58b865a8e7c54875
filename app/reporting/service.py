"""Reporting use cases for the API and the pages: a report as its caller sees it, deadlines,
the province's and the national overview."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app import clock
from app.auth.models import Role
from app.auth.principal import Principal
from app.exceptions import Forbidden, NotFound
from app.reporting import figures, periods, reports
from app.reporting.locks import locked
from app.reporting.models import ReportingDeadline, ReportingPeriod
from app.reporting.reports import ReportView
from app.reporting.schemas import Figures
from app.units.models import AdministrativeUnit, UnitLevel
from app.units.service import get_unit, in_jurisdiction


def unit_by_code(session: Session, code: str) -> AdministrativeUnit:
    """A commune or province in force today (reports are made by today's units)."""
    return get_unit(session, code, clock.today())


def period_out(period: ReportingPeriod) -> dict:
    return {
        "key": periods.period_key(period),
        "year": period.year,
        "kind": period.kind,
        "label": periods.period_label(period),
        "starts_on": period.starts_on,
        "ends_on": period.ends_on,
    }


def deadline_out(session: Session, deadline: ReportingDeadline | None) -> dict | None:
    if deadline is None:
        return None
    scope = session.get(AdministrativeUnit, deadline.scope_unit_id) if deadline.scope_unit_id else None
    return {
        "level": deadline.level,
        "scope": {"code": scope.code, "name": scope.name} if scope else None,
        "due_on": deadline.due_on,
        "source": deadline.source,
        "set_by_officer": deadline.updated_by_id is not None,
    }


def report_out(session: Session, principal: Principal, report: ReportView) -> dict:
    state = report.state
    row = report.row
    when = reports.timeliness(state, row.submitted_at if row else None, report.deadline, clock.today())
    typed = reports.typed_values(report)
    return {
        "period": periods.period_key(report.period),
        "period_label": periods.period_label(report.period),
        "unit": {"code": report.unit.code, "name": report.unit.name},
        "level": periods.level_of(report.unit),
        "state": state.value,
        "state_label": reports.STATE_NAMES[state],
        "deadline": deadline_out(session, report.deadline),
        "timeliness": when,
        "timeliness_label": reports.TIMELINESS_NAMES[when],
        "submitted_at": row.submitted_at if row else None,
        "decided_at": row.decided_at if row else None,
        "reason": row.reason if row else None,
        "frozen": bool(row and row.figures),
        # Typed as the API shows them (days as dates), whether live or read back from JSON.
        "figures": Figures.model_validate(reports.current_figures(session, report)).model_dump(),
        "typed_fields": [
            {"key": key, "label": label, **(typed.get(key) or {"value": None, "source": None})}
            for key, (label, _) in figures.TYPED_FIELDS.items()
        ],
        "locked": locked(session, report.unit.id, report.period.year) and report.period.kind == "year",
        **reports.capabilities(session, principal, report),
    }


def require_overseer(session: Session, principal: Principal, above: AdministrativeUnit | None) -> None:
    """A province's overview: its officers and administrators; the national one: administrators."""
    if principal.is_admin:
        return
    if above is not None and principal.role == Role.PROVINCE_OFFICER and in_jurisdiction(session, principal, above.id):
        return
    if above is None:
        raise Forbidden("Chỉ cấp trung ương (quản trị viên) xem tổng hợp toàn quốc.")
    raise NotFound("Không tìm thấy tổng hợp của tỉnh này trong phạm vi của tài khoản.")


def province(session: Session, code: str) -> AdministrativeUnit:
    unit = unit_by_code(session, code)
    if unit.level != UnitLevel.PROVINCE:
        raise NotFound(f"{unit.name} không phải tỉnh, thành phố.")
    return unit
