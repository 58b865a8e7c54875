"""Bodies of the assessments, decisions, recognitions and status API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from app.assessments.models import AssessmentState
from app.params import NationalId, PastDay, PastYear, text
from app.registry.schemas import DbId
from app.rules import Result, TitleCode
from app.units.schemas import UnitCodeStr

ClientId = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        description="Mã do máy khách tạo (UUID); gửi lại cùng mã và cùng nội dung không tạo bản ghi mới",
    ),
]
VersionId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Evidence(Input):
    indicator_id: str | None = Field(default=None, max_length=64)
    document_id: str | None = Field(default=None, max_length=200, description="Số hiệu / mã tài liệu minh chứng")
    note: str | None = Field(default=None, max_length=2000)


class AnswersIn(Input):
    subject_group: str | None = Field(default=None, max_length=64)
    unit_groups: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=10, description="Nhóm địa bàn áp dụng ngoại lệ, ví dụ disadvantaged"
    )
    answers: dict[str, Any] = Field(default_factory=dict, max_length=500)
    evidence: list[Evidence] = Field(default_factory=list, max_length=500)
    submit: StrictBool = Field(default=False, description="Nộp luôn (không để ở trạng thái nháp)")


class AssessmentCreate(AnswersIn):
    id: ClientId
    title: TitleCode
    subject_id: DbId
    period: PastYear
    criteria_version: VersionId | None = Field(
        default=None,
        description="Phiên bản đang áp dụng cho danh hiệu, tỉnh và ngày tham chiếu; để trống là dùng phiên bản đó. "
        "Ghi một phiên bản khác bị từ chối (chấm lại theo phiên bản khác: /assessment-rescorings)",
    )
    reference_date: PastDay | None = Field(
        default=None, description="Ngày tính các chỉ số dẫn xuất, trong năm của kỳ; mặc định 31/12 của kỳ hoặc hôm nay"
    )


class AssessmentRevise(AnswersIn):
    id: ClientId


class Transition(Input):
    action: Literal["submit", "review", "return"]
    reason: str | None = Field(default=None, max_length=1000)

    @field_validator("reason")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.strip() or None if value else None


class AssessmentOut(BaseModel):
    id: str
    chain_id: str
    revision: int
    supersedes: str | None
    superseded_by: str | None
    title: TitleCode
    subject_id: int
    period: int
    unit_code: str
    reference_date: date
    criteria_version: str
    criteria_content_hash: str
    subject_group: str | None
    unit_groups: list[str]
    answers: dict[str, Any]
    evidence: list[Evidence]
    derived: dict[str, Any]
    state: AssessmentState
    return_reason: str | None
    status: Literal["dat", "khong_dat"]
    total: float
    level: str | None
    result: Result
    created_at: datetime
    updated_at: datetime


class AssessmentList(BaseModel):
    items: list[AssessmentOut]
    total: int


class DecisionCreate(Input):
    commune_code: UnitCodeStr
    number: text(max_length=64) = Field(examples=["125/QĐ-UBND"])
    decided_on: PastDay
    signer: text(max_length=200)
    title: TitleCode
    period: PastYear
    assessment_ids: list[ClientId] = Field(min_length=1, max_length=2000)


class RecognitionOut(BaseModel):
    id: int
    title: TitleCode
    subject_id: int
    period: int
    unit_code: str
    decision_number: str
    decided_on: date
    criteria_version: str
    level: str | None
    valid_from: date
    valid_until: date
    revoked_at: datetime | None
    revoked_on: date | None = Field(description="Ngày thu hồi (theo giờ Việt Nam): từ ngày này danh hiệu bị thu hồi")
    revoked_reason: str | None
    credentials: list[str] = Field(
        default_factory=list, description="Mã các giấy công nhận điện tử đã cấp (GET /api/v1/credentials/{mã})"
    )


class DecisionOut(BaseModel):
    id: int
    commune_code: str = Field(description="Mã xã có các đối tượng được công nhận")
    issuer_code: str = Field(
        description="Mã đơn vị ban hành quyết định: chính xã đó, hoặc tỉnh của xã với danh hiệu do cấp tỉnh công nhận "
        "(Cộng đồng học tập cấp xã từ 01/7/2025)"
    )
    number: str
    decided_on: date
    signer: str
    title: TitleCode
    period: int
    recognitions: list[RecognitionOut]


class RecognitionList(BaseModel):
    items: list[RecognitionOut]
    total: int


class Revocation(Input):
    reason: text(min_length=3, max_length=1000)


class TitleStatus(BaseModel):
    title: TitleCode
    period: int | None
    state: Literal["active", "expired", "revoked", "pending", "registered", "none"]
    valid_from: date | None = None
    valid_until: date | None = None
    decision_number: str | None = None
    decided_on: date | None = None
    criteria_version: str | None = None
    level: str | None = None
    revoked_reason: str | None = None


class TitleStatusList(BaseModel):
    subject_kind: str
    subject_id: int
    as_of: date
    items: list[TitleStatus]
    total: int


class RescoreRequest(Input):
    title: TitleCode
    to_version: VersionId = Field(description="Phiên bản đang công bố của danh hiệu để chấm lại")
    dry_run: StrictBool = Field(default=True, description="Chỉ báo cáo: không tạo bản mới, không thay thế bản nào")


class RescoreRun(BaseModel):
    """A re-scoring run and its progress. Counts grow batch by batch; `total` is the number of
    open assessments to re-score when the run was made, `skipped` (known at the end) those no
    longer open when their batch came."""

    id: int
    title: TitleCode
    to_version: str
    dry_run: bool
    state: Literal["queued", "running", "done", "failed"]
    total: int
    processed: int = Field(description="Bản đánh giá đã chấm lại (kể cả bản có vấn đề)")
    changed: int = Field(description="Kết quả hoặc tổng điểm thay đổi")
    unchanged: int
    problems: int = Field(description="Câu trả lời không khớp phiên bản mới: không chấm lại")
    skipped: int
    batches: int
    error: str | None
    created_by: int | None = Field(description="Mã tài khoản đã yêu cầu")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RescoreItem(BaseModel):
    assessment_id: str
    new_assessment_id: str | None
    from_version: str
    old_status: str
    old_total: float
    new_status: str | None
    new_total: float | None
    changed: bool
    problems: list[str]


class RescoreItemList(BaseModel):
    items: list[RescoreItem]
    total: int


class TitleCheckRequest(Input):
    national_id: NationalId
    birth_date: PastDay


class TitleCheckItem(BaseModel):
    title: TitleCode
    year: int | None
    state: Literal["active", "expired", "revoked", "pending", "registered"]
    valid_until: date | None


class TitleCheckResult(BaseModel):
    items: list[TitleCheckItem]
    total: int
