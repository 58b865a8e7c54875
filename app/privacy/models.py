"""The access log of personal records (nhật ký truy cập dữ liệu cá nhân)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.database import Base


class PersonAccessEvent(Base):
    """One read of a person's record by a member of staff: who, when, which record, why."""

    __tablename__ = "person_access_events"
    __table_args__ = (
        Index("ix_person_access_events_person", "person_id", "at"),
        Index("ux_person_access_events_event_key", "event_key", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    action: Mapped[str] = mapped_column(String(32))  # read, list, search, export, household, staff, titles
    purpose: Mapped[str] = mapped_column(String(200))
    # Random, made when the read is journalled: a journal replayed twice adds nothing twice.
    # Empty for events logged before journalling.
    event_key: Mapped[str | None] = mapped_column(String(32))
