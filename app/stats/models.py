"""Targets (chỉ tiêu), unit groups, official denominators and the statistics data version."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base, TimestampMixin, UTCDateTime


class Target(TimestampMixin, Base):
    """A percentage target of a plan: for a unit (or a unit group, or the whole country when
    both are empty), a title, a year and optionally a segment of the population."""

    __tablename__ = "targets"
    __table_args__ = (Index("ix_targets_title_year", "title", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("administrative_units.id"), index=True)
    unit_group: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(16))
    year: Mapped[int | None]  # empty with every_year: the plan sets it for each year
    every_year: Mapped[bool] = mapped_column(Boolean, default=False)
    percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    comparison: Mapped[str] = mapped_column(String(2))  # ">=" or ">"
    segment: Mapped[str | None] = mapped_column(String(32))
    level: Mapped[str | None] = mapped_column(String(64))
    denominator_hint: Mapped[str | None] = mapped_column(String(200))
    document_number: Mapped[str] = mapped_column(String(100))
    document_date: Mapped[date | None]
    issuer: Mapped[str] = mapped_column(String(300))
    sentence: Mapped[str] = mapped_column(Text)
    # verbatim: the document's own words; secondary: a public source's words restating it
    # (quoted_from names it); summary: the registry's own summary, no public wording found.
    sentence_kind: Mapped[str] = mapped_column(String(16), default="verbatim", server_default="verbatim")
    quoted_from: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    # Where a seeded target came from (plan file and line); empty for targets entered by officers.
    source_key: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class UnitGroupMember(Base):
    """A unit in a named group, e.g. `disadvantaged` (vùng đặc biệt khó khăn)."""

    __tablename__ = "unit_group_members"

    unit_id: Mapped[int] = mapped_column(ForeignKey("administrative_units.id"), primary_key=True)
    group: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)


class OfficialDenominator(TimestampMixin, Base):
    """A denominator reported officially for a unit and year (e.g. households counted by the
    commune's statistics), kept beside the registry's own count."""

    __tablename__ = "official_denominators"
    __table_args__ = (UniqueConstraint("unit_id", "title", "year", "segment"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("administrative_units.id"))
    title: Mapped[str] = mapped_column(String(16))
    year: Mapped[int]
    segment: Mapped[str] = mapped_column(String(32), default="")
    value: Mapped[int]
    definition: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(500))
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class DataVersion(Base):
    """A counter bumped in the same transaction as every write that changes statistics, so
    cached results and ETags of the public progress endpoints change at once."""

    __tablename__ = "data_versions"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int]


class CountVersion(Base):
    """How often the data counted at one unit (the subjects living there, or the unit's own
    title) has changed. Bumped in the same transaction as the write (invalidation.py)."""

    __tablename__ = "count_versions"

    unit_id: Mapped[int] = mapped_column(ForeignKey("administrative_units.id"), primary_key=True)
    version: Mapped[int]


class CountBuild(Base):
    """One unit's pre-built counts for a year and basis: the reference day they were counted on
    and the versions they reflect. Rows of `unit_counts` belong to it."""

    __tablename__ = "count_builds"

    unit_id: Mapped[int] = mapped_column(ForeignKey("administrative_units.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    basis: Mapped[str] = mapped_column(String(16), primary_key=True)
    reference_day: Mapped[date]
    unit_version: Mapped[int]
    global_version: Mapped[int]
    built_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UnitCount(Base):
    """Pre-built numerator (số đạt) and denominator (mẫu số) of the subjects living in one unit,
    for a title and segment ('' for the whole population). Summing rows gives any territory's
    numbers: each subject lives in one unit on a day."""

    __tablename__ = "unit_counts"

    unit_id: Mapped[int] = mapped_column(ForeignKey("administrative_units.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    basis: Mapped[str] = mapped_column(String(16), primary_key=True)
    title: Mapped[str] = mapped_column(String(16), primary_key=True)
    segment: Mapped[str] = mapped_column(String(32), primary_key=True)
    numerator: Mapped[int]
    denominator: Mapped[int]
