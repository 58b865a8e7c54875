"""The yearly reporting chain (báo cáo định kỳ): reporting periods with their deadlines, and each
unit's report for a period with its state (draft → submitted → approved, or returned)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base, TimestampMixin


class PeriodKind(StrEnum):
    YEAR = "year"  # báo cáo năm
    HALF_YEAR = "half_year"  # báo cáo sơ kết 6 tháng


class ReportLevel(StrEnum):
    """Who reports: a commune to its province, a province to the national level (Bộ GD&ĐT and
    Hội Khuyến học Việt Nam). Since 01/7/2025 there are no districts."""

    COMMUNE = "commune"
    PROVINCE = "province"


class ReportState(StrEnum):
    DRAFT = "draft"  # being prepared (its numbers are live)
    SUBMITTED = "submitted"  # sent up, numbers frozen, waiting for approval
    RETURNED = "returned"  # sent back with a reason (or unlocked after approval), to fix and resubmit
    APPROVED = "approved"  # accepted; the unit's records of that year are locked


class ReportingPeriod(TimestampMixin, Base):
    __tablename__ = "reporting_periods"
    __table_args__ = (UniqueConstraint("year", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))
    starts_on: Mapped[date]
    ends_on: Mapped[date]  # the last day the period's numbers cover


class ReportingDeadline(TimestampMixin, Base):
    """By when a level must report for a period, within a scope: a province (every commune of
    it), a single commune (its own plan), or everywhere (scope empty). Seeded from the plans,
    editable by province officers for their province."""

    __tablename__ = "reporting_deadlines"
    __table_args__ = (UniqueConstraint("period_id", "level", "scope_unit_id", name="uq_reporting_deadline_scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("reporting_periods.id"), index=True)
    level: Mapped[str] = mapped_column(String(16))
    scope_unit_id: Mapped[int | None] = mapped_column(ForeignKey("administrative_units.id"))
    due_on: Mapped[date]
    source: Mapped[str] = mapped_column(Text)  # the document and how it binds (a summary unless marked)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class UnitReport(TimestampMixin, Base):
    """A unit's report for a period. Submitting freezes the numbers computed from the registry
    (`figures`) with the typed fields (`typed`: values the registry cannot know, each with its
    source); an approved report locks the unit's assessments, decisions and revocations of
    that year until the province unlocks it with a reason."""

    __tablename__ = "unit_reports"
    __table_args__ = (UniqueConstraint("period_id", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("reporting_periods.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("administrative_units.id"), index=True)
    level: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default=ReportState.DRAFT)
    figures: Mapped[str | None] = mapped_column(Text)  # JSON, frozen at submission
    typed: Mapped[str] = mapped_column(Text, default="{}")  # JSON: key → {value, source}
    reason: Mapped[str | None] = mapped_column(Text)  # of the last return or unlock
    submitted_at: Mapped[datetime | None]
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]  # approved or returned
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
