"""Bodies of the credentials API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from app.params import text

# A credential's public code (96 random bits in base64url) as it appears in links.
CredentialCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16}$")]
VerificationStatus = Literal["valid", "revoked", "suspended", "expired", "invalid"]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CredentialRequest(Input):
    include_name: StrictBool = Field(
        default=False,
        description="Ghi tên người/hộ được công nhận vào giấy điện tử (chỉ khi chính họ đề nghị)",
    )


class Suspension(Input):
    reason: text(min_length=3, max_length=1000)


class VerifyRequest(Input):
    credential: str = Field(
        min_length=1,
        max_length=20_000,
        description="Giấy công nhận điện tử dạng JWT (application/vc+jwt)",
        json_schema_extra={"example": "eyJhbGciOiJFUzI1NiIs..."},
    )


class CredentialDetails(BaseModel):
    """What a verifier is told about a credential (no personal data beyond a chosen name)."""

    id: str | None = None
    name: str | None = None
    title: str | None = None
    title_name: str | None = None
    period: int | None = None
    level: str | None = None
    issuer: str | None = None
    issuer_id: str | None = None
    decision_number: str | None = None
    decided_on: str | None = None
    criteria_version: str | None = None
    criteria: str | None = None
    provisional: bool = False
    valid_from: str | None = None
    valid_until: str | None = None
    holder_name: str | None = None


class VerificationOut(BaseModel):
    status: VerificationStatus
    reason: str | None = Field(description="Vì sao không hợp lệ (mã ổn định), khi status là invalid")
    message: str
    credential: CredentialDetails | None


class CredentialOut(BaseModel):
    id: str = Field(description="Mã công khai của giấy (trong đường dẫn kiểm tra)")
    recognition_id: int
    status: VerificationStatus
    includes_name: bool
    issued_at: datetime
    kid: str
    verify_url: str
    suspended_at: datetime | None
    suspended_reason: str | None
    revoked_at: datetime | None
    credential: str = Field(description="Giấy công nhận điện tử đã ký (application/vc+jwt)")
    document: dict[str, Any] = Field(description="Nội dung đã ký của giấy (để đọc; kiểm tra bằng `credential`)")


class CredentialList(BaseModel):
    items: list[CredentialOut]
    total: int
