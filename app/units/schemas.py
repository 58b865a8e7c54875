"""Request and response bodies of the units API."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, field_validator

from app.params import Day, PastDay
from app.text import name_field
from app.units.models import SuccessionKind, UnitLevel, VillageType

UnitCodeStr = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{2,5}(-[0-9]{1,4})?$")]


class UnitSummary(BaseModel):
    id: int
    code: str
    name: str
    unit_type: str
    level: UnitLevel
    valid_from: date | None = Field(description="Ngày bắt đầu hiệu lực; trống: trước mọi dữ liệu đang có")
    valid_to: date | None = Field(description="Ngày hết hiệu lực (không tính ngày này); trống: còn hiệu lực")


class SuccessionLink(BaseModel):
    unit: UnitSummary
    effective_date: date
    kind: SuccessionKind
    is_default: bool
    share: Decimal | None
    source: str
    note: str


class UnitDetail(UnitSummary):
    as_of: date
    parents: list[UnitSummary] = Field(description="Các cấp trên, từ tỉnh xuống cấp cha trực tiếp")
    children: list[UnitSummary] = Field(description="Đơn vị trực thuộc có hiệu lực vào ngày as_of")
    predecessors: list[SuccessionLink]
    successors: list[SuccessionLink]
    current_successors: list[UnitSummary] = Field(
        description="Các đơn vị đang có hiệu lực hôm nay mà đơn vị này (qua mọi lần sắp xếp) đã trở thành"
    )
    source: str


class UnitList(BaseModel):
    items: list[UnitSummary]
    total: int


_clean = name_field(200)


class VillageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["Tổ dân phố số 5"])
    unit_type: VillageType
    valid_from: PastDay | None = Field(default=None, description="Mặc định: hôm nay")

    _name = field_validator("name")(_clean)


class VillageUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    unit_type: VillageType | None = None
    valid_to: Day | None = Field(default=None, description="Ngày thôi sử dụng (không tính ngày này); có thể sắp tới")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else _clean(value)


class VillageImportResult(BaseModel):
    items: list[UnitSummary]
    total: int


class RehomingChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    residence_id: int = Field(strict=True, ge=1, le=2_147_483_647)
    unit_code: UnitCodeStr = Field(description="Mã đơn vị kế thừa được chọn (đang có hiệu lực)")


class VillageChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    village_code: UnitCodeStr
    commune_code: UnitCodeStr = Field(description="Mã xã/phường kế thừa nhận thôn/tổ dân phố này")


class RehomingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dry_run: StrictBool = Field(default=False, description="Chỉ tính toán, không ghi")
    split_policy: Literal["list", "default"] = Field(
        default="list",
        description="Đơn vị bị chia tách: `list` liệt kê để chọn thủ công; `default` chuyển về đơn vị kế thừa "
        "mặc định (và vẫn liệt kê để kiểm tra)",
    )
    choices: list[RehomingChoice] = Field(default_factory=list, max_length=5000)
    village_choices: list[VillageChoice] = Field(default_factory=list, max_length=1000)


class Candidate(BaseModel):
    code: str
    name: str
    is_default: bool


class RehomedRecord(BaseModel):
    residence_id: int
    subject_type: Literal["person", "household", "organisation"]
    subject_id: int
    from_code: str
    to_code: str
    via: Literal["succession", "default", "choice"]


class MovedVillage(BaseModel):
    from_code: str
    to_code: str
    name: str
    to_commune_code: str
    via: Literal["succession", "default", "choice"]


class PendingRecord(BaseModel):
    residence_id: int | None = None
    village_code: str | None = None
    subject_type: Literal["person", "household", "organisation"] | None = None
    subject_id: int | None = None
    reason: str
    candidates: list[Candidate]


class RehomingReport(BaseModel):
    unit: UnitSummary
    dry_run: bool
    moved: list[RehomedRecord]
    villages_moved: list[MovedVillage]
    needs_choice: list[PendingRecord]
