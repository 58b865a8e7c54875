"""Bodies of the registry API. Inputs forbid unknown fields; outputs never carry a national ID
in clear (only its mask)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app import clock
from app.params import MAX_DB_INT, NationalId, PastDay, Year
from app.registry.models import ManagingLevel, OrganisationKind, Sex
from app.rules import TitleCode
from app.text import name_field
from app.units.schemas import UnitCodeStr

DbId = Annotated[int, Field(ge=1, le=MAX_DB_INT, strict=True)]
Sector = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,31}$", examples=["education"])]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


_name = name_field(200)


class UnitBrief(BaseModel):
    code: str
    name: str
    level: str


class PersonCreate(Input):
    full_name: str = Field(min_length=1, max_length=200)
    birth_date: PastDay | None = None
    sex: Sex | None = None
    occupational_group: str | None = Field(default=None, max_length=64)
    sectors: list[Sector] = Field(default_factory=list, max_length=10)
    national_id: NationalId | None = None
    unit_code: UnitCodeStr = Field(description="Nơi cư trú: mã thôn/tổ dân phố hoặc xã/phường")
    resident_since: PastDay | None = Field(default=None, description="Ngày đến cư trú (mặc định hôm nay)")

    _full_name = field_validator("full_name")(_name)


class PersonOut(BaseModel):
    id: int
    full_name: str
    birth_date: date | None
    sex: Sex | None
    occupational_group: str | None
    sectors: list[str]
    national_id_masked: str | None
    unit: UnitBrief | None


class PersonList(BaseModel):
    items: list[PersonOut]
    total: int


class NationalIdSearch(Input):
    national_id: NationalId


class MemberIn(Input):
    person_id: DbId
    relation: str | None = Field(default=None, max_length=32)
    joined_on: PastDay | None = None


class HouseholdCreate(Input):
    name: str = Field(min_length=1, max_length=200, examples=["Hộ ông Nguyễn Văn An"])
    unit_code: UnitCodeStr
    since: PastDay | None = None
    head_person_id: DbId | None = None
    members: list[MemberIn] = Field(default_factory=list, max_length=50)

    _name = field_validator("name")(_name)


class MemberOut(BaseModel):
    person_id: int
    full_name: str
    relation: str | None
    joined_on: date
    left_on: date | None


class HouseholdOut(BaseModel):
    id: int
    name: str
    head_person_id: int | None
    unit: UnitBrief | None
    members: list[MemberOut]


class LeaveIn(Input):
    left_on: PastDay | None = None


class ClanCreate(Input):
    name: str = Field(min_length=1, max_length=200, examples=["Dòng họ Nguyễn Văn"])
    home_commune_code: UnitCodeStr
    since: PastDay | None = None
    household_ids: list[DbId] = Field(default_factory=list, max_length=2000)

    _name = field_validator("name")(_name)


class ClanHouseholdOut(BaseModel):
    household_id: int
    name: str
    joined_on: date
    left_on: date | None


class ClanOut(BaseModel):
    id: int
    name: str
    home_unit: UnitBrief
    households: list[ClanHouseholdOut]


class HouseholdJoin(Input):
    household_id: DbId
    joined_on: PastDay | None = None


class OrganisationCreate(Input):
    name: str = Field(min_length=1, max_length=300)
    kind: OrganisationKind
    sector: Sector | None = None
    managing_level: ManagingLevel = ManagingLevel.COMMUNE
    unit_code: UnitCodeStr
    since: PastDay | None = None
    staff: list[MemberIn] = Field(default_factory=list, max_length=5000)

    _name = field_validator("name")(name_field(300))


class OrganisationOut(BaseModel):
    id: int
    name: str
    kind: OrganisationKind
    sector: str | None
    managing_level: ManagingLevel
    unit: UnitBrief | None
    staff: list[MemberOut]


class RegistrationCreate(Input):
    title: TitleCode
    subject_id: DbId
    year: Year
    registered_on: PastDay | None = None

    @field_validator("year")
    @classmethod
    def _this_or_next_year(cls, value: int) -> int:
        # Households sign up at the start of the year, some in December for the next one.
        if value > clock.today().year + 1:
            raise ValueError(f"Chỉ đăng ký được cho năm nay hoặc năm sau ({clock.today().year + 1}).")
        return value


class RegistrationOut(BaseModel):
    id: int
    title: TitleCode
    subject_id: int
    year: int
    registered_on: date
    unit: UnitBrief


class MoveIn(Input):
    unit_code: UnitCodeStr = Field(description="Nơi cư trú mới: mã thôn/tổ dân phố hoặc xã/phường")
    since: PastDay | None = Field(default=None, description="Ngày chuyển đến (mặc định hôm nay)")
