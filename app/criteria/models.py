"""Published criteria versions (phiên bản bộ tiêu chí), immutable once published."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base, TimestampMixin


class VersionState(StrEnum):
    DRAFT = "draft"  # uploaded, may still be replaced
    PUBLISHED = "published"  # in force for its dates; never changes again
    RETIRED = "retired"  # no longer chosen for new assessments; old ones keep using it


class CriteriaVersionRecord(TimestampMixin, Base):
    __tablename__ = "criteria_versions"
    __table_args__ = (
        UniqueConstraint("title", "version_id"),
        Index("ix_criteria_versions_resolution", "title", "state", "effective_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(16))
    version_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(1000))
    state: Mapped[str] = mapped_column(String(16))
    # The validated version as canonical JSON, and its SHA-256: what evaluations are pinned to.
    content: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    effective_from: Mapped[date]
    effective_to: Mapped[date | None]
    scope: Mapped[str] = mapped_column(String(16))
    provisional: Mapped[bool] = mapped_column(Boolean)
    published_at: Mapped[datetime | None]
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    retired_at: Mapped[datetime | None]


class CriteriaVersionProvince(Base):
    """A province a version applies to, when it is not national."""

    __tablename__ = "criteria_version_provinces"

    version_pk: Mapped[int] = mapped_column(ForeignKey("criteria_versions.id", ondelete="CASCADE"), primary_key=True)
    province_code: Mapped[str] = mapped_column(String(2), primary_key=True, index=True)
