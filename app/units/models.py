"""Administrative units (đơn vị hành chính) with validity in time, their successions, and the
ancestor table used for jurisdiction checks and roll-ups.

Official codes are reused across the 2025 reform, so a code identifies a unit only together
with a date: (code, valid_from ≤ date < valid_to).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Numeric, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base, TimestampMixin


class UnitLevel(StrEnum):
    PROVINCE = "province"  # tỉnh / thành phố trực thuộc trung ương
    DISTRICT = "district"  # quận / huyện / thị xã / thành phố thuộc tỉnh (until 2025-06-30)
    COMMUNE = "commune"  # xã / phường / thị trấn / đặc khu
    VILLAGE = "village"  # thôn / bản / ấp / tổ dân phố


class VillageType(StrEnum):
    THON = "thon"  # thôn
    BAN = "ban"  # bản
    AP = "ap"  # ấp
    TO_DAN_PHO = "to_dan_pho"  # tổ dân phố
    KHU_PHO = "khu_pho"  # khu phố
    XOM = "xom"  # xóm
    BUON = "buon"  # buôn
    PHUM = "phum"  # phum, sóc


class SuccessionKind(StrEnum):
    MERGE = "merge"  # the predecessor's whole territory became part of the successor
    SPLIT = "split"  # the predecessor was divided between several successors
    RENAME = "rename"  # same territory, new name
    RE_PARENT = "re_parent"  # same territory and name, new parent unit


class AdministrativeUnit(TimestampMixin, Base):
    __tablename__ = "administrative_units"
    __table_args__ = (
        CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from", name="valid_range"),
        Index("ix_administrative_units_code_valid", "code", "valid_from"),
        # Village codes are made by the service and must never repeat.
        Index(
            "uq_administrative_units_village_code",
            "code",
            unique=True,
            sqlite_where=text("level = 'village'"),
            postgresql_where=text("level = 'village'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    # The name without diacritics, lower case (app.text.plain): what `q` searches.
    search_name: Mapped[str] = mapped_column(String(200), index=True)
    unit_type: Mapped[str] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(16), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("administrative_units.id"), index=True)
    # Inclusive start, exclusive end; NULL means "before any record we hold" / "still in force".
    valid_from: Mapped[date | None]
    valid_to: Mapped[date | None]
    # Where the record comes from (seed package and version, or "village" for officer-made units).
    source: Mapped[str] = mapped_column(String(200), default="")


class UnitSuccession(Base):
    """Predecessor → successor on an effective date (kế thừa sau sáp nhập / chia tách)."""

    __tablename__ = "unit_successions"
    __table_args__ = (
        UniqueConstraint("predecessor_id", "successor_id"),
        CheckConstraint("predecessor_id <> successor_id", name="distinct_units"),
        CheckConstraint("share IS NULL OR (share > 0 AND share <= 1)", name="share_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    predecessor_id: Mapped[int] = mapped_column(ForeignKey("administrative_units.id"), index=True)
    successor_id: Mapped[int] = mapped_column(ForeignKey("administrative_units.id"), index=True)
    effective_date: Mapped[date]
    kind: Mapped[str] = mapped_column(String(16))
    # For splits: the successor that takes records nobody assigned by hand.
    is_default: Mapped[bool] = mapped_column(Boolean, default=True)
    # Share of the predecessor's population that went to this successor, when published.
    share: Mapped[Decimal | None] = mapped_column(Numeric(6, 5))
    source: Mapped[str] = mapped_column(String(400), default="")
    note: Mapped[str] = mapped_column(String(400), default="")


class UnitAncestor(Base):
    """Closure of the parent relation, each unit paired with itself and every ancestor.

    Lets "is this record inside the caller's units" and "sum over a province" be one join.
    """

    __tablename__ = "unit_ancestors"

    unit_id: Mapped[int] = mapped_column(ForeignKey("administrative_units.id"), primary_key=True)
    ancestor_id: Mapped[int] = mapped_column(ForeignKey("administrative_units.id"), primary_key=True, index=True)
    depth: Mapped[int]  # 0 for the unit itself, 1 for its parent, …
