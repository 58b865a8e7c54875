"""Assessments (đánh giá), decisions (quyết định công nhận) and recognitions (công nhận)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base, TimestampMixin


class AssessmentState(StrEnum):
    DRAFT = "draft"  # being filled in
    SUBMITTED = "submitted"  # filed by the assessor (nộp)
    REVIEWED = "reviewed"  # checked by the commune's Hội Khuyến học (thẩm định)
    RETURNED = "returned"  # sent back for correction, with a reason
    DECIDED = "decided"  # covered by a recognition decision
    SUPERSEDED = "superseded"  # replaced by a later revision

    @classmethod
    def open_states(cls) -> tuple[AssessmentState, ...]:
        return (cls.DRAFT, cls.SUBMITTED, cls.REVIEWED, cls.RETURNED)


class Assessment(TimestampMixin, Base):
    """One revision of an assessment. A correction is a new row that supersedes this one."""

    __tablename__ = "assessments"
    __table_args__ = (
        Index("ix_assessments_subject", "title", "subject_id", "period"),
        Index("ix_assessments_unit_state", "unit_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The client's own id for this submission: re-sending it is answered, not duplicated.
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    chain_id: Mapped[str] = mapped_column(String(36), index=True)  # public_id of the first revision
    revision: Mapped[int]
    # Unique: a revision is superseded at most once, so concurrent corrections cannot fork a chain.
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id"), unique=True)
    title: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int]
    period: Mapped[int]  # the year assessed
    unit_id: Mapped[int] = mapped_column(ForeignKey("administrative_units.id"))
    reference_date: Mapped[date]
    criteria_version_id: Mapped[int] = mapped_column(ForeignKey("criteria_versions.id"), index=True)
    criteria_content_hash: Mapped[str] = mapped_column(String(64))
    subject_group: Mapped[str | None] = mapped_column(String(64))
    unit_groups: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    answers: Mapped[str] = mapped_column(Text)  # JSON
    evidence: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of {indicator_id, document_id, note}
    derived: Mapped[str] = mapped_column(Text, default="{}")  # JSON, computed by the registry
    result: Mapped[str] = mapped_column(Text)  # JSON of the engine's result with its trace
    status: Mapped[str] = mapped_column(String(16))  # dat | khong_dat
    total: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    level: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    return_reason: Mapped[str | None] = mapped_column(String(1000))
    assessor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # When the review (thẩm định) was recorded; a decision cannot be dated before it.
    reviewed_at: Mapped[datetime | None]
    # Bumped on every change of this row; the ETag clients send back in If-Match.
    row_version: Mapped[int] = mapped_column(default=1)


class Decision(TimestampMixin, Base):
    """Quyết định công nhận of a commune, covering a batch of reviewed assessments."""

    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("unit_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("administrative_units.id"), index=True)
    number: Mapped[str] = mapped_column(String(64))
    decided_on: Mapped[date]
    signer: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(16))
    period: Mapped[int]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Recognition(TimestampMixin, Base):
    """A title held by a subject for a period (công nhận danh hiệu)."""

    __tablename__ = "recognitions"
    __table_args__ = (
        UniqueConstraint("title", "subject_id", "period"),
        Index("ix_recognitions_unit_title_period", "unit_id", "title", "period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int]
    period: Mapped[int]
    unit_id: Mapped[int] = mapped_column(ForeignKey("administrative_units.id"))
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), index=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"), unique=True)
    criteria_version_id: Mapped[int] = mapped_column(ForeignKey("criteria_versions.id"))
    level: Mapped[str | None] = mapped_column(String(64))
    valid_from: Mapped[date]
    valid_until: Mapped[date]  # exclusive
    revoked_at: Mapped[datetime | None]
    # The Vietnamese calendar day of `revoked_at`: from that day on the title is revoked.
    revoked_on: Mapped[date | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(1000))
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
