"""Subjects of the registry — people, households, clans, organisations — their memberships and
where they live.

Memberships and residence are history: joining, leaving, moving or the re-homing of a merged
unit's records closes one row and opens another; nothing is overwritten.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base, TimestampMixin


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"


class OrganisationKind(StrEnum):
    AGENCY = "agency"  # cơ quan
    SCHOOL = "school"  # trường học, cơ sở giáo dục
    ENTERPRISE = "enterprise"  # doanh nghiệp
    COOPERATIVE = "cooperative"  # hợp tác xã
    ARMED_FORCES = "armed_forces"  # đơn vị lực lượng vũ trang
    HEALTH = "health"  # cơ sở y tế
    ASSOCIATION = "association"  # hội, đoàn thể
    OTHER = "other"


class ManagingLevel(StrEnum):
    COMMUNE = "commune"
    DISTRICT = "district"
    PROVINCE = "province"
    CENTRAL = "central"


class Person(TimestampMixin, Base):
    """Một người (công dân). The national ID (CCCD) is kept only as a keyed HMAC and a mask."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date | None]
    sex: Mapped[str | None] = mapped_column(String(8))
    occupational_group: Mapped[str | None] = mapped_column(String(64))
    # HMAC-SHA256 of the 12-digit CCCD under key `national_id_key_version`; the key is a
    # setting, never in the database, so the digits cannot be brute-forced from a dump.
    national_id_hmac: Mapped[str | None] = mapped_column(String(64), unique=True)
    national_id_key_version: Mapped[int | None]
    national_id_masked: Mapped[str | None] = mapped_column(String(16))


class PersonSector(Base):
    """A sector tag of a person (e.g. `education` for education staff)."""

    __tablename__ = "person_sectors"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    sector: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)


class Household(TimestampMixin, Base):
    """Một hộ gia đình."""

    __tablename__ = "households"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    head_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)


class HouseholdMember(TimestampMixin, Base):
    __tablename__ = "household_members"
    __table_args__ = (
        CheckConstraint("left_on IS NULL OR left_on >= joined_on", name="valid_range"),
        Index("ix_household_members_household", "household_id", "left_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    relation: Mapped[str | None] = mapped_column(String(32))  # chủ hộ, vợ, chồng, con, …
    joined_on: Mapped[date]
    left_on: Mapped[date | None]


class Clan(TimestampMixin, Base):
    """Một dòng họ (hoặc chi họ, hội họ), anchored in its home commune."""

    __tablename__ = "clans"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    home_unit_id: Mapped[int] = mapped_column(ForeignKey("administrative_units.id"), index=True)


class ClanHousehold(TimestampMixin, Base):
    __tablename__ = "clan_households"
    __table_args__ = (
        CheckConstraint("left_on IS NULL OR left_on >= joined_on", name="valid_range"),
        Index("ix_clan_households_clan", "clan_id", "left_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clan_id: Mapped[int] = mapped_column(ForeignKey("clans.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    joined_on: Mapped[date]
    left_on: Mapped[date | None]


class Organisation(TimestampMixin, Base):
    """Cơ quan, trường học, doanh nghiệp, hợp tác xã, đơn vị lực lượng vũ trang, …"""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(32))
    sector: Mapped[str | None] = mapped_column(String(32), index=True)
    managing_level: Mapped[str] = mapped_column(String(16), default=ManagingLevel.COMMUNE)


class OrganisationStaff(TimestampMixin, Base):
    __tablename__ = "organisation_staff"
    __table_args__ = (
        CheckConstraint("left_on IS NULL OR left_on >= joined_on", name="valid_range"),
        Index("ix_organisation_staff_organisation", "organisation_id", "left_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    joined_on: Mapped[date]
    left_on: Mapped[date | None]


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


class Registration(TimestampMixin, Base):
    """Đăng ký danh hiệu: a subject signs up for a title for a year."""

    __tablename__ = "registrations"
    __table_args__ = (UniqueConstraint("title", "subject_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int]
    year: Mapped[int]
    unit_id: Mapped[int] = mapped_column(ForeignKey("administrative_units.id"), index=True)
    registered_on: Mapped[date]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
