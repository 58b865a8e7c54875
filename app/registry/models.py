"""Subjects of the registry (people, households, organisations) and where they live.

Residence is kept as history: a move, or the re-homing of a merged unit's records, closes one
row and opens another; nothing is overwritten.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base, TimestampMixin


class Person(TimestampMixin, Base):
    """Một người (công dân)."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date | None]
    sex: Mapped[str | None] = mapped_column(String(8))


class Household(TimestampMixin, Base):
    """Một hộ gia đình."""

    __tablename__ = "households"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    head_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)


class Organisation(TimestampMixin, Base):
    """Cơ quan, trường học, doanh nghiệp, hợp tác xã, đơn vị lực lượng vũ trang, …"""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(32))


SUBJECT_COLUMNS = ("person_id", "household_id", "organisation_id")


class Residence(TimestampMixin, Base):
    """Where a subject lives (or, for an organisation, is based) from valid_from until valid_to."""

    __tablename__ = "residences"
    __table_args__ = (
        CheckConstraint(
            " + ".join(f"(CASE WHEN {column} IS NULL THEN 0 ELSE 1 END)" for column in SUBJECT_COLUMNS) + " = 1",
            name="one_subject",
        ),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="valid_range"),
        Index("ix_residences_unit_current", "unit_id", "valid_to"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("administrative_units.id"))
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]
    # registered | moved | rehomed
    reason: Mapped[str] = mapped_column(String(16), default="registered")
    note: Mapped[str] = mapped_column(String(400), default="")

    @property
    def subject(self) -> tuple[str, int]:
        for column in SUBJECT_COLUMNS:
            value = getattr(self, column)
            if value is not None:
                return column.removesuffix("_id"), value
        raise ValueError("residence without subject")
