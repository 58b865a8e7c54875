"""Kích hoạt tài khoản bằng mã một lần: accounts created from a spreadsheet have no password
until their holder sets one with a one-time code. No shared or default password ever exists.

A code is 12 characters of Crockford's base 32 (60 random bits), shown as `ABCD-EFGH-JKMN`; it
is typed case-insensitively, with or without the dashes, O read as 0 and I/L as 1. Only its
SHA-256, bound to the account, is stored (like refresh tokens): 60 random bits need no slow
hash, a code lives two weeks at most and guessing it is rate limited. A code is used once,
ends at its expiry, and a newer code for the account revokes the older ones.

An import creates a pending row per new account (no code yet); the codes are drawn when the
importing administrator downloads the job's codes sheet, which is possible once: the sheet is
the only place the codes ever exist in clear."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import clock
from app.audit.service import record as audit
from app.audit.service import snapshot
from app.auth.models import ActivationCode, Role, User
from app.auth.passwords import Passwords, is_usable
from app.auth.principal import Principal
from app.config import Settings
from app.exceptions import Conflict, FieldError, Problem
from app.security import ratelimit

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base 32: no I, L, O, U
LENGTH = 12
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
PAGE = "/kich-hoat"


@dataclass(frozen=True)
class Issued:
    """A code just drawn for an account: shown once (sheet or API answer), never stored."""

    user: User
    code: str
    expires_at: datetime


def new_code() -> str:
    plain = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(plain[i : i + 4] for i in range(0, LENGTH, 4))


def normalised(code: str) -> str | None:
    """The code as stored (upper case, no dashes or spaces), or None if it cannot be one."""
    text = "".join(code.split()).replace("-", "").upper().translate(_READ_AS)
    if len(text) != LENGTH or any(ch not in ALPHABET for ch in text):
        return None
    return text


def code_digest(user_id: int, code: str) -> str:
    # Bound to the account: one table of digests cannot be matched against every account at once.
    return hashlib.sha256(f"hoctap-activation:{user_id}:{code}".encode("ascii")).hexdigest()


def activation_url(base_url: str, username: str, code: str) -> str:
    """The activation page with the username and code after `#`: a browser never sends that part
    to a server, so the code stays out of access logs, proxies and Referer headers."""
    return f"{base_url.rstrip('/')}{PAGE}#u={quote(username, safe='')}&ma={quote(code, safe='')}"


def failure_limit(settings: Settings) -> ratelimit.Limit:
    """Failed activations per account and address (API and page): the allowance of failed logins."""
    return ratelimit.per_minute("activation-failures", settings.login_attempts_per_15_minutes, 15)


def is_activated(user: User) -> bool:
    return is_usable(user.password_hash)


def _revoke_unused(session: Session, user_id: int, now: datetime, keep: int | None = None) -> None:
    condition = (
        (ActivationCode.user_id == user_id) & ActivationCode.used_at.is_(None) & ActivationCode.revoked_at.is_(None)
    )
    if keep is not None:
        condition &= ActivationCode.id != keep
    session.execute(update(ActivationCode).where(condition).values(revoked_at=now))


def add_pending(session: Session, user: User, import_job_id: int | None) -> None:
    """A new account of an import waits for its code, drawn when the codes sheet is downloaded."""
    session.add(ActivationCode(user_id=user.id, import_job_id=import_job_id, created_at=clock.now()))
    session.flush()


def issue(session: Session, principal: Principal, user: User, days: int) -> Issued:
    """A fresh code for one account that is not activated yet (its earlier codes stop working)."""
    if is_activated(user):
        raise Conflict(
            "Tài khoản này đã được kích hoạt (đã có mật khẩu); không cần mã kích hoạt.", code="already_activated"
        )
    if not user.is_active:
        raise Conflict("Tài khoản này đang bị khóa; hãy mở khóa trước khi cấp mã.", code="account_locked")
    now = clock.now()
    code, expires_at = new_code(), now + timedelta(days=days)
    row = ActivationCode(
        user_id=user.id,
        code_hash=code_digest(user.id, normalised(code) or ""),
        created_at=now,
        issued_at=now,
        expires_at=expires_at,
        issued_by_id=principal.id or None,
    )
    session.add(row)
    session.flush()
    _revoke_unused(session, user.id, now, keep=row.id)
    audit(session, principal, "issue_activation_code", "user", user.id, None, None, expires_at=expires_at)
    session.flush()
    return Issued(user, code, expires_at)


def deliver(session: Session, principal: Principal, import_job_id: int, days: int) -> list[Issued]:
    """Draw the codes of every account the import created that still waits for one: once. The
    caller has checked that `principal` made the import."""
    pending = list(
        session.execute(
            select(ActivationCode, User)
            .join(User, User.id == ActivationCode.user_id)
            .where(
                ActivationCode.import_job_id == import_job_id,
                ActivationCode.code_hash.is_(None),
                ActivationCode.revoked_at.is_(None),
                ActivationCode.used_at.is_(None),
            )
            .order_by(ActivationCode.id)
        )
    )
    gone = Problem(
        410,
        "codes_already_delivered",
        "Bảng mã đã được tải",
        "Bảng mã kích hoạt của lần nhập này đã được tải về một lần và không còn lưu ở đâu. Nếu bị mất, hãy cấp "
        "mã mới cho từng tài khoản (POST /api/v1/users/{id}/activation-code).",
    )
    if not pending:
        drawn_before = session.scalar(
            select(ActivationCode.id).where(ActivationCode.import_job_id == import_job_id).limit(1)
        )
        if drawn_before is None:
            raise Conflict(
                "Lần nhập này không tạo tài khoản mới nào nên không có mã kích hoạt.", code="no_new_accounts"
            )
        raise gone
    issued = []
    now = clock.now()
    for row, user in pending:
        if is_activated(user) or not user.is_active:
            row.revoked_at = now  # activated or locked meanwhile: nothing to deliver
            continue
        code = new_code()
        expires_at = now + timedelta(days=days)
        # Of two downloads at once only one draws each code (the other's UPDATE finds it taken).
        drawn = session.execute(
            update(ActivationCode)
            .where(ActivationCode.id == row.id, ActivationCode.code_hash.is_(None))
            .values(
                code_hash=code_digest(row.user_id, normalised(code) or ""),
                issued_at=now,
                expires_at=expires_at,
                issued_by_id=principal.id or None,
            )
        ).rowcount
        if drawn == 1:
            issued.append(Issued(user, code, expires_at))
    if not issued and any(not is_activated(user) and user.is_active for _, user in pending):
        raise gone
    audit(session, principal, "deliver_activation_codes", "import_job", import_job_id, None, None, count=len(issued))
    session.flush()
    return issued


def _refused(code: str, message: str) -> Problem:
    return Problem(
        422,
        code,
        "Không kích hoạt được tài khoản",
        message,
        errors=[FieldError(field="body.code", code=code, message=message)],
    )


def activate(session: Session, passwords: Passwords, username: str, code: str, password: str) -> User:
    """Set the account's first password with its one-time code, which is used up by it. Only a
    caller who holds a real code of the account learns more than "wrong username or code"."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    plain = normalised(code)
    wrong = _refused("activation_code_invalid", "Tên đăng nhập hoặc mã kích hoạt không đúng.")
    if user is None or plain is None:
        raise wrong
    row = session.scalar(
        select(ActivationCode).where(
            ActivationCode.user_id == user.id, ActivationCode.code_hash == code_digest(user.id, plain)
        )
    )
    if row is None:
        raise wrong
    now = clock.now()
    if row.used_at is not None or is_activated(user):
        raise _refused("activation_code_used", "Mã này đã được dùng; tài khoản đã kích hoạt. Hãy đăng nhập.")
    if row.revoked_at is not None:
        raise _refused(
            "activation_code_replaced", "Mã này đã được thay bằng một mã mới hơn; hãy dùng mã được cấp sau cùng."
        )
    if row.expires_at is None or row.expires_at <= now:
        expired = clock.local_date(row.expires_at) if row.expires_at else None
        when = f" ngày {expired:%d/%m/%Y}" if expired else ""
        raise _refused("activation_code_expired", f"Mã kích hoạt đã hết hạn{when}; hãy nhờ quản trị viên cấp mã mới.")
    if not user.is_active:
        raise _refused("account_locked", "Tài khoản này đang bị khóa; hãy liên hệ quản trị viên.")
    # Of two requests with the same code only one can mark it used.
    claimed = session.execute(
        update(ActivationCode)
        .where(ActivationCode.id == row.id, ActivationCode.used_at.is_(None), ActivationCode.revoked_at.is_(None))
        .values(used_at=now)
    ).rowcount
    if claimed != 1:
        raise _refused("activation_code_used", "Mã này đã được dùng; tài khoản đã kích hoạt. Hãy đăng nhập.")
    before = snapshot(user)
    user.password_hash = passwords.hash(password)
    user.password_changed_at = now
    user.credential_version += 1
    user.updated_at = now
    _revoke_unused(session, user.id, now)
    actor = Principal(id=user.id, username=user.username, role=Role(user.role), unit_ids=frozenset())
    audit(session, actor, "activate", "user", user.id, before, snapshot(user))
    session.flush()
    return user
