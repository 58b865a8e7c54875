"""Request and response bodies of the auth and user endpoints.

Input models forbid unknown fields so a client can never set server-side state by accident.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StringConstraints, field_validator

from app.auth.models import Role
from app.units.schemas import UnitCodeStr

Username = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, min_length=3, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    ),
]


def _not_blank_password(value: str) -> str:
    # Spaces are allowed inside a passphrase, but ten of them are not a password.
    if len(value.strip()) < 10:
        raise ValueError("Mật khẩu cần ít nhất 10 ký tự không kể khoảng trắng ở hai đầu.")
    return value


Password = Annotated[str, Field(min_length=10, max_length=256), AfterValidator(_not_blank_password)]


class InputModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Số giây còn hiệu lực của access_token")
    refresh_token: str


class RevokeRequest(InputModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class PasswordChange(InputModel):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: Password


class UnitRef(BaseModel):
    id: int
    code: str
    name: str
    level: str


class UserOut(BaseModel):
    id: int
    username: str
    full_name: str
    role: Role
    is_active: bool
    activated: bool = Field(description="Đã có mật khẩu (tài khoản nhập từ tệp: sau khi dùng mã kích hoạt)")
    units: list[UnitRef]
    created_at: datetime
    updated_at: datetime


class AccountCreate(InputModel):
    """An account without a password: created from a spreadsheet, activated with a one-time code."""

    username: Username
    full_name: str = Field(min_length=1, max_length=200)
    role: Role
    unit_codes: list[UnitCodeStr] = Field(
        default_factory=list,
        max_length=500,
        description="Mã đơn vị hành chính (đang có hiệu lực) thuộc phạm vi của tài khoản",
    )

    @field_validator("full_name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("Họ tên không được để trống.")
        return value


class UserCreate(AccountCreate):
    password: Password


class UserUpdate(InputModel):
    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    unit_codes: list[UnitCodeStr] | None = Field(default=None, max_length=500)
    is_active: StrictBool | None = None
    password: Password | None = None


class UserList(BaseModel):
    items: list[UserOut]
    total: int


class ActivationRequest(InputModel):
    username: str = Field(min_length=1, max_length=64)
    code: str = Field(min_length=1, max_length=40, description="Mã kích hoạt một lần, ví dụ ABCD-EFGH-JKMN")
    password: Password


class ActivationCodeOut(BaseModel):
    """A fresh one-time code, shown only in this answer."""

    user_id: int
    username: str
    code: str
    expires_at: datetime
    activation_url: str = Field(description="Trang kích hoạt, tên đăng nhập và mã điền sẵn (sau dấu #)")
