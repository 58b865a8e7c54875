"""Bodies of the statistics API (progress, targets, honour roll, official denominators)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from app.params import PastDay, text
from app.rules import TitleCode
from app.units.schemas import UnitCodeStr


class UnitRef(BaseModel):
    code: str
    name: str
    level: str
    valid_from: date | None
    valid_to: date | None


SentenceKind = Literal["verbatim", "secondary", "summary"]


class TargetSource(BaseModel):
    document_number: str
    document_date: date | None
    issuer: str
    sentence: str
    sentence_kind: SentenceKind = Field(
        description="verbatim: nguyên văn của văn bản; secondary: lời của một nguồn công khai nhắc lại văn bản "
        "(quoted_from); summary: tóm tắt của hệ thống, không phải nguyên văn (chưa tìm thấy câu chữ công khai)"
    )
    quoted_from: str | None = Field(description="Nơi đọc được câu này (bản sao công khai, nguồn thứ cấp)")


# Targets for learning districts and provinces are listed, not computed (progress is per unit).
TargetTitle = TitleCode


class TargetOut(BaseModel):
    id: int
    scope: str = Field(description="Đơn vị đặt chỉ tiêu (mã, tên) hoặc 'toàn quốc' / nhóm đơn vị")
    unit: UnitRef | None
    unit_group: str | None
    title: TargetTitle
    year: int | None
    every_year: bool
    percent: float
    comparison: Literal[">=", ">"]
    segment: str | None
    level: str | None
    denominator_hint: str | None
    source: TargetSource
    note: str | None
    inherited: bool = Field(description="Chỉ tiêu của cấp trên, đơn vị cũ trước sắp xếp hoặc toàn quốc")


class TargetList(BaseModel):
    items: list[TargetOut]
    total: int


class TargetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit_code: UnitCodeStr | None = Field(default=None, description="Trống: chỉ tiêu cho nhóm đơn vị")
    unit_group: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{1,31}$")
    title: TitleCode
    year: int | None = Field(strict=True, default=None, ge=2000, le=2100)
    every_year: StrictBool = False
    percent: float = Field(strict=True, gt=0, le=100)
    comparison: Literal[">=", ">"] = ">="
    segment: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{1,31}$")
    level: str | None = Field(default=None, max_length=64)
    denominator_hint: str | None = Field(default=None, max_length=200)
    document_number: text(max_length=100)
    document_date: PastDay | None = None
    issuer: text(max_length=300)
    sentence: text(max_length=4000) = Field(description="Câu trong văn bản nêu chỉ tiêu")
    sentence_kind: SentenceKind = Field(
        default="verbatim", description="Câu là nguyên văn văn bản, lời của nguồn thứ cấp, hay tóm tắt"
    )
    quoted_from: text(max_length=1000) | None = Field(
        default=None, description="Nguồn của câu (bắt buộc khi không phải nguyên văn)"
    )
    note: str | None = Field(default=None, max_length=2000)


class AppliedTarget(BaseModel):
    """One target that applies to a progress item, with its document and how far the item is."""

    id: int
    scope: str = Field(description="Đơn vị đặt chỉ tiêu (mã, tên) hoặc 'toàn quốc' / nhóm đơn vị")
    unit: UnitRef | None
    unit_group: str | None
    year: int | None
    every_year: bool
    percent: float
    comparison: Literal[">=", ">"]
    source: TargetSource
    inherited: bool = Field(description="Chỉ tiêu của cấp trên, đơn vị cũ trước sắp xếp hoặc toàn quốc")
    in_force: bool = Field(
        description="Chỉ tiêu gần đơn vị nhất: là chỉ tiêu ghi ở target_percent, target_source, gap và met của mục"
    )
    gap: float | None = Field(
        description="Số điểm phần trăm còn thiếu để đạt chỉ tiêu; 0 khi đã đạt (không bao giờ âm); trống khi chưa "
        "tính được tỉ lệ"
    )
    met: bool | None = Field(description="Đã đạt chỉ tiêu (theo phép so sánh của chỉ tiêu); trống khi chưa tính được")


class ProgressItem(BaseModel):
    title: TitleCode
    segment: str | None = Field(description="Mã nhóm đối tượng (trống: toàn bộ); tên tiếng Việt ở segment_label")
    segment_label: str | None = Field(description="Tên nhóm đối tượng bằng tiếng Việt (trống: toàn bộ)")
    numerator: int
    denominator: int
    denominator_definition: str
    denominator_label: str
    percent: float | None
    target_percent: float | None
    target_comparison: str | None
    target_source: TargetSource | None
    gap: float | None = Field(
        description="Số điểm phần trăm còn thiếu để đạt chỉ tiêu đang áp dụng (chỉ tiêu trừ tỉ lệ); 0 khi đã đạt, "
        "không bao giờ âm (phần vượt: percent − target_percent)"
    )
    met: bool | None
    targets: list[AppliedTarget] = Field(
        default_factory=list,
        description="Mọi chỉ tiêu áp dụng cho danh hiệu và nhóm này, mỗi chỉ tiêu một mục với văn bản của nó, gần "
        "đơn vị nhất trước (mục đầu là chỉ tiêu đang áp dụng)",
    )
    official_denominator: int | None = None
    official_percent: float | None = None
    official_source: str | None = None
    counted_at: datetime = Field(description="Thời điểm đếm (UTC); số liệu đúng đến thời điểm này")
    exact: bool = Field(
        description="Luôn đúng: số liệu dựng sẵn chưa kịp cập nhật thì được đếm trực tiếp, không có thay đổi chờ"
    )


class Progress(BaseModel):
    unit: UnitRef
    year: int
    reference_date: date
    basis: Literal["all", "registered"]
    territory: Literal["current", "former"] = Field(
        description="former: đơn vị đã hết hiệu lực, tính trên người và tổ chức từng ở địa bàn cũ"
    )
    data_version: int = Field(description="Tăng mỗi khi dữ liệu của địa bàn hoặc chỉ tiêu thay đổi")
    counted_at: datetime = Field(description="Thời điểm đếm (UTC)")
    live_units: int = Field(description="Số đơn vị được đếm trực tiếp vì số liệu dựng sẵn của chúng đang được cập nhật")
    items: list[ProgressItem]
    total: int


class HonourEntry(BaseModel):
    title: TitleCode
    name: str | None = Field(
        description="Tên; với hộ gia đình chỉ khi được phép công bố tên người (HOCTAP_PUBLISH_PERSON_NAMES)"
    )
    village: str | None
    decision_number: str
    decided_on: date
    level: str | None


class HonourRoll(BaseModel):
    unit: UnitRef
    year: int
    items: list[HonourEntry]
    total: int


class OfficialDenominatorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: TitleCode
    year: int = Field(strict=True, ge=2000, le=2100)
    segment: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{1,31}$")
    value: int = Field(strict=True, ge=0, le=100_000_000)
    definition: text(max_length=64) = Field(examples=["households"])
    source: text(min_length=3, max_length=500) = Field(examples=["Báo cáo thống kê dân số phường năm 2025"])


class OfficialDenominatorOut(OfficialDenominatorIn):
    unit_code: str
