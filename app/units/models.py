"""Administrative units (đơn vị hành chính) with validity in time.

Official codes are reused across the 2025 reform, so a code identifies a unit only together
with a date: (code, valid_from ≤ date < valid_to).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base, TimestampMixin


class UnitLevel(StrEnum):
    PROVINCE = "province"  # tỉnh / thành phố trực thuộc trung ương
    DISTRICT = "district"  # quận / huyện / thị xã / thành phố thuộc tỉnh (until 2025-06-30)
    COMMUNE = "commune"  # xã / phường / thị trấn / đặc khu
    VILLAGE = "village"  # thôn / bản / ấp / tổ dân phố


class AdministrativeUnit(TimestampMixin, Base):
    __tablename__ = "administrative_units"
    __table_args__ = (
        CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from", name="valid_range"),
        Index("ix_administrative_units_code_valid", "code", "valid_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    unit_type: Mapped[str] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(16), index=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("administrative_units.id"), index=True
    )
    # Inclusive start, exclusive end; NULL means "before any record" / "still in force".
    valid_from: Mapped[date | None]
    valid_to: Mapped[date | None]
