"""Signed credentials of recognitions (giấy công nhận điện tử) and their status lists."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base, TimestampMixin


class Credential(TimestampMixin, Base):
    """One issued credential of a recognition. A recognition may have several (re-issued with the
    holder's name, say); each is revoked with the recognition and may be suspended on its own."""

    __tablename__ = "credentials"
    __table_args__ = (
        UniqueConstraint("status_list", "status_index"),
        Index("ix_credentials_recognition", "recognition_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The random public id of the short verification link (/verify/{code}); never a sequence.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    recognition_id: Mapped[int] = mapped_column(ForeignKey("recognitions.id"))
    # The subject's opaque id in the credential (urn:uuid), shared by re-issues of a recognition.
    subject_ref: Mapped[str] = mapped_column(String(64))
    includes_name: Mapped[bool] = mapped_column(default=False)
    # Bit `status_index` of list `status_list` in both the revocation and the suspension list.
    status_list: Mapped[int]
    status_index: Mapped[int]
    kid: Mapped[str] = mapped_column(String(64))
    # The signed credential exactly as issued (compact JWS, application/vc+jwt).
    token: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime]
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    suspended_at: Mapped[datetime | None]
    suspended_reason: Mapped[str | None] = mapped_column(String(1000))
    revoked_at: Mapped[datetime | None]


class StatusList(Base):
    """A W3C Bitstring Status List: bit i is set when credential i of list `number` has the
    `purpose` (revocation, suspension). Changed in the transaction that changes the status."""

    __tablename__ = "status_lists"
    __table_args__ = (UniqueConstraint("number", "purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int]
    purpose: Mapped[str] = mapped_column(String(16))
    bits: Mapped[bytes] = mapped_column(LargeBinary)
    # Indexes handed out so far (kept on the revocation list of a number).
    allocated: Mapped[int] = mapped_column(default=0)
    # Bumped on every change: the ETag of the published list.
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime]
