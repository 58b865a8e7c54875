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


class RescoringState(StrEnum):
    QUEUED = "queued"  # waiting for a worker
    RUNNING = "running"  # a worker has it (or had it: a run whose heartbeat is old is resumed)
    DONE = "done"
    FAILED = "failed"  # stopped after repeated errors; a new run takes up what is left


class RescoringRun(TimestampMixin, Base):
    """Re-scoring the open assessments of a title (in the creator's units) under a published
    version, done in batches by background jobs (app/assessments/rescoring.py). `cursor` is the
    last assessment id a part has done: each batch commits its work together with the cursor,
    so a part stopped by a crash resumes after the last batch that committed."""

    __tablename__ = "rescoring_runs"
    __table_args__ = (Index("ix_rescoring_runs_state", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(16))
    criteria_version_id: Mapped[int] = mapped_column(ForeignKey("criteria_versions.id"))
    dry_run: Mapped[bool]
    state: Mapped[str] = mapped_column(String(16))
    # Whose assessments: every unit (created by an admin) or those under the creator's units,
    # as they were when the run was made (JSON list of unit ids).
    scope_all: Mapped[bool]
    scope_units: Mapped[str] = mapped_column(Text, default="[]")
    # The run covers the assessments that existed when it was made: ids up to this one.
    last_id: Mapped[int] = mapped_column(default=0)
    cursor: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)  # open assessments to re-score when the run was made
    processed: Mapped[int] = mapped_column(default=0)
    changed: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    problems: Mapped[int] = mapped_column(default=0)
    # Counted at the end: assessments no longer open when their batch came (corrected, decided
    # or re-scored by another run meanwhile).
    skipped: Mapped[int] = mapped_column(default=0)
    batches: Mapped[int] = mapped_column(default=0)
    # The worker holding the run and when it last showed it is alive; a run whose heartbeat is
    # older than rescoring.LEASE_SECONDS (or that nobody holds) is taken over by the next worker.
    worker: Mapped[str | None] = mapped_column(String(100))
    heartbeat_at: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(default=0)  # consecutive failed batches
    error: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # A run is worked in parts, each over its own range of ids (cursor, last_id] by its own
    # job, at the same time: parts are rows with the run as parent. The run (no parent) is what
    # the API shows; its counts are its parts' summed.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("rescoring_runs.id"), index=True)


class RescoringOutcome(Base):
    """The engine's outcome for one distinct input of a batch of a run: (subject group, unit
    groups, answers) and, for titles with derived indicators, the subject and reference date.
    The batch's assessments are joined to their outcome in SQL; the result text is dropped once
    the batch's revisions hold it."""

    __tablename__ = "rescoring_outcomes"
    __table_args__ = (Index("ix_rescoring_outcomes_run_batch", "run_id", "batch"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("rescoring_runs.id"))
    batch: Mapped[int]
    subject_group: Mapped[str | None] = mapped_column(String(64))
    unit_groups: Mapped[str] = mapped_column(Text)
    answers: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[int | None]
    reference_date: Mapped[date | None]
    status: Mapped[str | None] = mapped_column(String(16))  # None: the answers do not fit the version
    total: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    level: Mapped[str | None] = mapped_column(String(64))
    problems: Mapped[str | None] = mapped_column(Text)  # JSON list of sentences
    request_hash: Mapped[str | None] = mapped_column(String(64))
    derived: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)


class RescoringItem(Base):
    """One assessment a run reached: its outcome, and whether its status or total changed. The
    new revision (if any) is the row that supersedes it.

    No foreign keys, deliberately: a run writes a million of these in bulk, each row only ever
    by an INSERT … SELECT from the run, the assessment and the outcome it names, and a key
    check per row would cost as much as the row (measured: a tenth of a run's time)."""

    __tablename__ = "rescoring_items"

    run_id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(primary_key=True)
    outcome_id: Mapped[int]
    changed: Mapped[bool]
