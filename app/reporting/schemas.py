"""Reporting API shapes (báo cáo định kỳ)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.params import Day, text
from app.units.schemas import UnitCodeStr


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PeriodOut(BaseModel):
    key: str = Field(description="2025: báo cáo năm; 2025-h1: sơ kết 6 tháng đầu năm")
    year: int
    kind: Literal["year", "half_year"]
    label: str
    starts_on: date
    ends_on: date


class PeriodList(BaseModel):
    items: list[PeriodOut]
    total: int


class UnitBrief(BaseModel):
    code: str
    name: str


class DeadlineOut(BaseModel):
    level: Literal["commune", "province"] = Field(description="Cấp gửi báo cáo: xã lên tỉnh, tỉnh lên trung ương")
    scope: UnitBrief | None = Field(description="Nơi hạn áp dụng: một tỉnh, một xã; trống là cả nước")
    due_on: date
    source: str = Field(description="Văn bản đặt hạn và cách hiểu sau sắp xếp 2025 (tóm tắt trừ phần ghi nguyên văn)")
    set_by_officer: bool = Field(description="Cán bộ đã đặt lại hạn này (không còn theo dữ liệu gốc)")


class DeadlineList(BaseModel):
    items: list[DeadlineOut]
    total: int


class DeadlineIn(Input):
    level: Literal["commune", "province"]
    unit_code: UnitCodeStr | None = Field(default=None, description="Tỉnh hoặc xã áp dụng; trống là cả nước")
    due_on: Day
    source: text(min_length=3, max_length=1000) = Field(examples=["Công văn 123/UBND-VX ngày 01/11/2026"])


class FigureItem(BaseModel):
    title: str
    title_name: str
    segment: str | None
    segment_label: str | None = Field(default=None, description="Tên tiếng Việt của nhóm dân cư")
    registered: int | None
    assessed: int | None
    recognised: int | None
    denominator: int | None
    denominator_label: str
    percent: float | None
    target_percent: float | None
    target_source: str | None
    gap: float | None = Field(description="Còn thiếu so với chỉ tiêu (điểm %); 0 khi đã đạt")
    met: bool | None


class Figures(BaseModel):
    as_of: date = Field(description="Số liệu tính đến ngày")
    counted_at: datetime
    items: list[FigureItem]


class TypedValue(Input):
    value: int = Field(ge=0, le=10**12)
    source: text(min_length=3, max_length=300) = Field(examples=["Chi cục Thống kê, số liệu 31/12/2025"])


class TypedField(BaseModel):
    key: str
    label: str
    value: int | None
    source: str | None


class TypedFieldsIn(Input):
    fields: dict[str, TypedValue | None] = Field(max_length=20, description="Mỗi trường: giá trị và nguồn; null để xóa")


class TransitionIn(Input):
    action: Literal["submit", "approve", "return", "unlock"]
    reason: str | None = Field(default=None, max_length=1000, description="Bắt buộc khi trả lại hoặc mở khóa")


class ReportOut(BaseModel):
    period: str
    period_label: str
    unit: UnitBrief
    level: Literal["commune", "province"]
    state: Literal["draft", "submitted", "returned", "approved"]
    state_label: str
    deadline: DeadlineOut | None
    timeliness: Literal["on_time", "late", "missing", "open", "no_deadline"]
    timeliness_label: str
    submitted_at: datetime | None
    decided_at: datetime | None
    reason: str | None = Field(description="Lý do của lần trả lại hoặc mở khóa gần nhất")
    frozen: bool = Field(description="Số liệu đã chốt khi gửi; false: số liệu trực tiếp từ sổ")
    figures: Figures
    typed_fields: list[TypedField]
    locked: bool = Field(description="Đã duyệt: đánh giá, quyết định, thu hồi của năm này bị từ chối")
    may_edit: bool
    may_submit: bool
    may_approve: bool
    may_return: bool
    may_unlock: bool


class HistoryItem(BaseModel):
    action: str
    at: datetime
    by: str | None
    reason: str | None


class HistoryList(BaseModel):
    items: list[HistoryItem]
    total: int


class UnitState(BaseModel):
    unit: UnitBrief
    state: Literal["draft", "submitted", "returned", "approved"]
    state_label: str
    due_on: date | None
    timeliness: Literal["on_time", "late", "missing", "open", "no_deadline"]
    timeliness_label: str
    submitted_at: datetime | None
    reason: str | None


class UnitStateList(BaseModel):
    items: list[UnitState]
    total: int
    counts: dict[str, int] = Field(description="Số đơn vị theo tình trạng: on_time, late, missing, open, no_deadline")


class Consolidated(BaseModel):
    reports: int = Field(description="Số báo cáo đã duyệt được cộng")
    items: list[FigureItem]


class ConsolidatedOut(BaseModel):
    approved: Consolidated = Field(description="Cộng từ các báo cáo đã duyệt (chỉ những báo cáo này)")
    live: Figures | None = Field(description="Số liệu trực tiếp từ sổ trên cùng địa bàn, chưa qua duyệt")
