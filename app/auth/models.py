"""Staff accounts, their jurisdiction, refresh tokens and one-time activation codes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import Base, TimestampMixin


class Role(StrEnum):
    ADMIN = "admin"
    PROVINCE_OFFICER = "province_officer"  # cán bộ cấp tỉnh: reads its province
    COMMUNE_OFFICER = "commune_officer"  # cán bộ UBND xã/phường: records decisions
    ASSESSOR = "assessor"  # Hội Khuyến học: files and reviews evaluations
    PORTAL_CLIENT = "portal_client"  # read-only service account of a ward portal


class User(TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    # `UNUSABLE_PASSWORD` (app/auth/passwords.py) until an account created from a spreadsheet is
    # activated with its one-time code: no shared or default password ever exists.
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_changed_at: Mapped[datetime | None]
    # Moved on by every password change; access tokens carry it (claim `cv`), so a change
    # ends every token issued before it, whatever the second.
    credential_version: Mapped[int] = mapped_column(default=1, server_default="1")

    units: Mapped[list[UserUnit]] = relationship(back_populates="user", cascade="all, delete-orphan", lazy="raise")


class UserUnit(Base):
    """One administrative unit a non-admin account may act in (its jurisdiction)."""

    __tablename__ = "user_units"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("administrative_units.id"), primary_key=True, index=True)

    user: Mapped[User] = relationship(back_populates="units", lazy="raise")


class RefreshToken(Base):
    """An opaque refresh token, stored only as its SHA-256.

    Tokens rotate on every use; all tokens issued from one login share a `family_id`, so
    presenting an already-used token (a sign of theft) revokes the whole family.
    """

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[str] = mapped_column(String(32), index=True)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in browser of the staff pages. The cookie holds a random token; only its SHA-256
    is stored. A session ends at `expires_at`, at sign-out, or when the account's credential
    version moves on (a password change signs out every browser)."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The per-session secret every form sends back (synchroniser token against CSRF).
    csrf_token: Mapped[str] = mapped_column(String(64))
    credential_version: Mapped[int]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ActivationCode(Base):
    """Mã kích hoạt một lần của một tài khoản chưa có mật khẩu.

    Only the code's SHA-256 (bound to the account) is stored. An account created by an import
    gets a row without a code (`code_hash` None, `import_job_id` set): the code is drawn when the
    importing administrator downloads the job's codes sheet, shown there once and never stored.
    A code is used once (`used_at`), ends at `expires_at`, and a newer code for the same account
    revokes the older ones (`revoked_at`)."""

    __tablename__ = "activation_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    import_job_id: Mapped[int | None] = mapped_column(ForeignKey("import_jobs.id", ondelete="SET NULL"), index=True)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    issued_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
