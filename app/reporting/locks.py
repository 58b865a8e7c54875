"""One predicate: is a unit's year locked by an approved report? (khóa số liệu sau khi duyệt)

An approved yearly report of the unit's commune — or of a unit above it (a province's report
approved at the national level) — locks that year's assessments, decisions, recognitions and
revocations in the unit until the report is unlocked with a reason. Half-year reports are
progress snapshots and lock nothing."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app.exceptions import Conflict
from app.reporting.models import PeriodKind, ReportingPeriod, ReportState, UnitReport
from app.units.models import UnitAncestor


def locked(session: Session, unit_id: int, year: int) -> bool:
    above = select(UnitAncestor.ancestor_id).where(UnitAncestor.unit_id == unit_id)
    return bool(
        session.scalar(
            select(
                exists().where(
                    UnitReport.period_id == ReportingPeriod.id,
                    ReportingPeriod.year == year,
                    ReportingPeriod.kind == PeriodKind.YEAR,
                    UnitReport.state == ReportState.APPROVED,
                    UnitReport.unit_id.in_(above),
                )
            )
        )
    )


def require_open(session: Session, unit_id: int, year: int) -> None:
    """409 `period_locked` when the unit's year is locked by an approved report."""
    if locked(session, unit_id, year):
        raise Conflict(
            f"Báo cáo năm {year} của đơn vị đã được duyệt nên số liệu năm {year} bị khóa: không thêm, sửa đánh giá, "
            "quyết định công nhận hay thu hồi được. Cấp tỉnh có thể mở khóa báo cáo (nêu lý do) nếu cần sửa.",
            code="period_locked",
        )
