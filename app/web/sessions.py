"""Cookie sessions of the staff pages, with a synchroniser token against cross-site requests.

The cookie holds 256 random bits (HttpOnly, SameSite=Lax, Secure in production); the database
holds their SHA-256, the account's credential version and the session's CSRF secret. Tokens never
travel in URLs. Reading a session writes nothing (no "last seen"), so page views stay read-only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.auth.models import User, WebSession
from app.auth.principal import Principal
from app.auth.service import load_principal
from app.database import SessionDep
from app.exceptions import Forbidden, Problem
from app.registry.service import READERS

COOKIE = "hoctap_session"
SESSION_HOURS = 12  # a working day; then sign in again


def _digest(plain: str) -> str:
    return hashlib.sha256(plain.encode("ascii", "replace")).hexdigest()


def start(session: Session, user: User) -> str:
    plain = secrets.token_urlsafe(32)
    now = clock.now()
    session.add(
        WebSession(
            user_id=user.id,
            token_hash=_digest(plain),
            csrf_token=secrets.token_urlsafe(32),
            credential_version=user.credential_version,
            created_at=now,
            expires_at=now + timedelta(hours=SESSION_HOURS),
        )
    )
    session.flush()
    return plain


def end(session: Session, plain: str | None) -> None:
    if not plain:
        return
    row = session.scalar(select(WebSession).where(WebSession.token_hash == _digest(plain)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = clock.now()
        session.flush()


@dataclass(frozen=True)
class Staff:
    """The signed-in user of a staff page and the CSRF secret its forms carry."""

    principal: Principal
    csrf: str
    full_name: str


def current(session: Session, plain: str | None) -> Staff | None:
    if not plain or len(plain) > 100:
        return None
    row = session.scalar(select(WebSession).where(WebSession.token_hash == _digest(plain)))
    if row is None or row.revoked_at is not None or row.expires_at <= clock.now():
        return None
    principal = load_principal(session, row.user_id, row.credential_version)
    if principal is None:
        return None
    full_name = session.scalar(select(User.full_name).where(User.id == row.user_id)) or principal.username
    return Staff(principal=principal, csrf=row.csrf_token, full_name=full_name)


class LoginRequired(Problem):
    """Raised by staff pages without a valid session: the browser is sent to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(401, "login_required", "Cần đăng nhập", "Hãy đăng nhập để tiếp tục.")
        self.location = "/dang-nhap?next=" + quote(next_path, safe="/")


def staff(request: Request, session: SessionDep) -> Staff:
    found = current(session, request.cookies.get(COOKIE))
    if found is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path)
    if found.principal.role not in READERS:
        raise Forbidden("Tài khoản này không dùng các trang của cán bộ.")
    return found


StaffDep = Annotated[Staff, Depends(staff)]


async def check_csrf(request: Request, who: StaffDep) -> None:
    """Every state-changing request carries the session's secret, in the form (`csrf`) or in the
    `X-CSRF-Token` header (htmx); a page on another site cannot read it."""
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = (await request.form()).get("csrf")
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), who.csrf.encode()):
        raise Forbidden("Biểu mẫu đã hết hạn hoặc không gửi từ trang này. Hãy tải lại trang và thử lại.")


CsrfChecked = Depends(check_csrf)


def safe_next(path: str | None) -> str:
    """Where to go after signing in: only a path of this site (never `//host` or a URL)."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path and len(path) < 500:
        return path
    return "/can-bo"
