"""Imports of spreadsheets (nhập từ Excel/CSV): one row per uploaded file and its result."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base, TimestampMixin


class ImportState(StrEnum):
    QUEUED = "queued"  # waiting for a worker
    RUNNING = "running"  # being checked or written (a stale heartbeat: taken up again)
    DONE = "done"  # written (or, for a dry run, checked without errors)
    REFUSED = "refused"  # rows with errors: nothing written (all or nothing); see the report
    FAILED = "failed"  # stopped by repeated errors of the service itself


class ImportJob(TimestampMixin, Base):
    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    # A kind's variant, where its columns depend on one (assessments: "title:criteria version").
    variant: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=ImportState.QUEUED)
    dry_run: Mapped[bool]
    file_name: Mapped[str] = mapped_column(String(200))
    # SHA-256 of the file: the same file again is answered with what the first one did.
    file_digest: Mapped[str] = mapped_column(String(64), index=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    # The day the file's unit codes mean (codes change with the 2025 reform).
    on_day: Mapped[date]
    total_rows: Mapped[int] = mapped_column(default=0)
    checked_rows: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    matched: Mapped[int] = mapped_column(default=0)
    error_count: Mapped[int] = mapped_column(default=0)
    errors: Mapped[str] = mapped_column(Text, default="[]")  # JSON: the first errors, for the API
    error_report: Mapped[bytes | None] = mapped_column(LargeBinary)  # XLSX of every error
    attempts: Mapped[int] = mapped_column(default=0)
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
