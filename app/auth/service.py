"""Accounts, login, token rotation and jurisdiction (phạm vi quản lý) of staff users."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app import clock
from app.audit.service import record as audit
from app.audit.service import snapshot
from app.auth.models import RefreshToken, Role, User, UserUnit
from app.auth.passwords import UNUSABLE_PASSWORD, Passwords, is_usable
from app.auth.principal import Principal
from app.auth.schemas import AccountCreate, TokenResponse, UnitRef, UserCreate, UserOut, UserUpdate
from app.auth.tokens import TokenService, refresh_token_digest
from app.database import owned_session
from app.exceptions import Conflict, FieldError, NotAuthenticated, NotFound, Problem, invalid_field
from app.units.models import AdministrativeUnit, UnitLevel
from app.units.service import units_by_codes

# Which unit levels each role's jurisdiction may name.
JURISDICTION_LEVELS: dict[Role, frozenset[str]] = {
    Role.ADMIN: frozenset(),
    Role.PROVINCE_OFFICER: frozenset({UnitLevel.PROVINCE}),
    Role.COMMUNE_OFFICER: frozenset({UnitLevel.COMMUNE}),
    Role.ASSESSOR: frozenset({UnitLevel.COMMUNE, UnitLevel.VILLAGE}),
    Role.PORTAL_CLIENT: frozenset({UnitLevel.PROVINCE, UnitLevel.COMMUNE}),
}
_LEVEL_NAMES = {
    UnitLevel.PROVINCE: "tỉnh/thành phố",
    UnitLevel.DISTRICT: "quận/huyện",
    UnitLevel.COMMUNE: "xã/phường",
    UnitLevel.VILLAGE: "thôn/tổ dân phố",
}


# --- login and tokens -------------------------------------------------------------------------


def authenticate(session: Session, passwords: Passwords, username: str, password: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    # Verify even for unknown users so response time does not reveal which usernames exist.
    valid = passwords.verify(user.password_hash if user else None, password)
    if user is not None and user.is_active and not is_usable(user.password_hash):
        # Created from a spreadsheet and never activated: no password can match, say what to do.
        raise NotAuthenticated(
            "Tài khoản chưa được kích hoạt. Hãy đặt mật khẩu bằng mã kích hoạt được cấp tại trang /kich-hoat "
            "(mã hết hạn: nhờ quản trị viên cấp mã mới).",
            code="account_not_activated",
        )
    if user is None or not valid or not user.is_active:
        raise NotAuthenticated("Tên đăng nhập hoặc mật khẩu không đúng.", code="invalid_credentials")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash(password)
        session.flush()
    return user


def issue_tokens(session: Session, tokens: TokenService, user: User, family_id: str | None = None) -> TokenResponse:
    access_token, expires_in = tokens.issue_access_token(user.id, user.role, user.credential_version)
    plain, digest = tokens.new_refresh_token()
    now = clock.now()
    session.add(
        RefreshToken(
            user_id=user.id,
            token_hash=digest,
            family_id=family_id or uuid.uuid4().hex,
            issued_at=now,
            expires_at=now + tokens.refresh_ttl,
        )
    )
    session.flush()
    return TokenResponse(access_token=access_token, expires_in=expires_in, refresh_token=plain)


def refresh_tokens(
    session: Session, tokens: TokenService, plain: str, separate: sessionmaker[Session]
) -> TokenResponse:
    """Rotate a refresh token. A token presented twice revokes its whole family: that
    revocation is written in a short transaction of its own (`separate`), since the request
    itself fails and rolls back."""
    invalid = NotAuthenticated(
        "Mã làm mới không hợp lệ hoặc đã hết hạn. Vui lòng đăng nhập lại.", code="invalid_refresh_token"
    )
    stored = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == refresh_token_digest(plain)))
    now = clock.now()
    if stored is None or stored.revoked_at is not None or stored.expires_at <= now:
        raise invalid
    claimed = 0
    if stored.used_at is None:
        # Atomic claim: of two concurrent uses only one can flip used_at from NULL.
        claimed = session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == stored.id, RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None))
            .values(used_at=now)
        ).rowcount
    if claimed != 1:
        # Used before: a sign of theft. The request fails; its own transaction is ended first
        # (SQLite admits one writer at a time), then the family is revoked in a short one.
        session.rollback()
        with owned_session(separate) as own:
            _revoke_family(own, stored.family_id, now)
        raise invalid
    user = session.get(User, stored.user_id)
    if user is None or not user.is_active:
        raise invalid
    return issue_tokens(session, tokens, user, family_id=stored.family_id)


def revoke_refresh_token(session: Session, plain: str) -> None:
    """Log out: revoke the token's family. Unknown tokens are ignored (RFC 7009 §2.2)."""
    stored = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == refresh_token_digest(plain)))
    if stored is not None:
        _revoke_family(session, stored.family_id, clock.now())


def _revoke_family(session: Session, family_id: str, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def _revoke_all_for_user(session: Session, user_id: int) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )


def principal_queries(user_id: int) -> tuple[Select, Select]:
    """The account and its units: what a principal is made of (sync and async callers alike)."""
    account = select(User.id, User.username, User.role, User.is_active, User.credential_version).where(
        User.id == user_id
    )
    return account, select(UserUnit.unit_id).where(UserUnit.user_id == user_id)


def principal_of(account, unit_ids, credential_version: int) -> Principal | None:
    """The active user behind a token. A token carries the account's credential version at
    issue; changing the password (or an admin's reset) moves the version on, so every token
    issued before, even within the same second, stops working."""
    if account is None or not account.is_active or account.credential_version != credential_version:
        return None
    return Principal(id=account.id, username=account.username, role=Role(account.role), unit_ids=frozenset(unit_ids))


def load_principal(session: Session, user_id: int, credential_version: int) -> Principal | None:
    account, units = principal_queries(user_id)
    found = session.execute(account).first()
    return principal_of(found, session.scalars(units) if found else [], credential_version)


def change_own_password(session: Session, passwords: Passwords, principal: Principal, current: str, new: str) -> None:
    user = session.get(User, principal.id)
    if user is None or not passwords.verify(user.password_hash, current):
        raise invalid_field("body.current_password", "wrong_password", "Mật khẩu hiện tại không đúng.")
    before = snapshot(user)
    user.password_hash = passwords.hash(new)
    user.password_changed_at = clock.now()
    user.credential_version += 1
    _revoke_all_for_user(session, user.id)
    audit(session, principal, "change_password", "user", user.id, before, snapshot(user))
    session.flush()


# --- accounts ---------------------------------------------------------------------------------


def _resolve_jurisdiction(session: Session, role: Role, codes: list[str]) -> list[int]:
    """Unit ids for the given codes (as of today), checked against what the role may hold."""
    allowed = JURISDICTION_LEVELS[role]
    codes = list(dict.fromkeys(codes))
    if role == Role.ADMIN:
        if codes:
            raise invalid_field(
                "body.unit_codes", "admin_has_no_units", "Quản trị viên không gắn với đơn vị hành chính."
            )
        return []
    if not codes:
        raise invalid_field("body.unit_codes", "missing", "Tài khoản này cần ít nhất một đơn vị thuộc phạm vi quản lý.")
    found = units_by_codes(session, codes, clock.today())
    errors = []
    for index, code in enumerate(codes):
        unit = found.get(code)
        if unit is None:
            errors.append(
                FieldError(
                    field=f"body.unit_codes.{index}",
                    code="unknown_unit",
                    message=f"Không có đơn vị hành chính mã {code} đang có hiệu lực.",
                )
            )
        elif unit.level not in allowed:
            levels = ", ".join(_LEVEL_NAMES[UnitLevel(level)] for level in sorted(allowed))
            message = f"Vai trò này chỉ gắn với đơn vị cấp {levels}; {unit.name} không phù hợp."
            errors.append(FieldError(field=f"body.unit_codes.{index}", code="wrong_unit_level", message=message))
    if errors:
        raise Problem(422, "validation_failed", "Dữ liệu không hợp lệ", "Một số đơn vị không hợp lệ.", errors=errors)
    return [found[code].id for code in codes]


def _user_outs(session: Session, users: list[User]) -> list[UserOut]:
    """Users with their units, loaded in one query for the whole page."""
    units: dict[int, list[UnitRef]] = defaultdict(list)
    if users:
        rows = session.execute(
            select(
                UserUnit.user_id,
                AdministrativeUnit.id,
                AdministrativeUnit.code,
                AdministrativeUnit.name,
                AdministrativeUnit.level,
            )
            .join(AdministrativeUnit, AdministrativeUnit.id == UserUnit.unit_id)
            .where(UserUnit.user_id.in_([user.id for user in users]))
            .order_by(AdministrativeUnit.code)
        )
        for user_id, unit_id, code, name, level in rows:
            units[user_id].append(UnitRef(id=unit_id, code=code, name=name, level=level))
    return [
        UserOut(
            id=user.id,
            username=user.username,
            full_name=user.full_name,
            role=Role(user.role),
            is_active=user.is_active,
            activated=is_usable(user.password_hash),
            units=units[user.id],
            created_at=user.created_at,
            updated_at=user.updated_at,
        )
        for user in users
    ]


def user_out(session: Session, user: User) -> UserOut:
    return _user_outs(session, [user])[0]


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("Không tìm thấy tài khoản.")
    return user


def list_users(session: Session, *, role: Role | None, limit: int, offset: int) -> tuple[list[UserOut], int]:
    query = select(User)
    if role is not None:
        query = query.where(User.role == role)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    users = list(session.scalars(query.order_by(User.id).limit(limit).offset(offset)))
    return _user_outs(session, users), total


def create_user(
    session: Session, passwords: Passwords | None, data: UserCreate | AccountCreate, actor: Principal | None = None
) -> User:
    """An account; without a password (`AccountCreate`, from a spreadsheet) it cannot sign in
    until activated with a one-time code (app/auth/activation.py)."""
    unit_ids = _resolve_jurisdiction(session, data.role, data.unit_codes)
    if session.scalar(select(User.id).where(User.username == data.username)) is not None:
        raise Conflict(f"Tên đăng nhập {data.username} đã được dùng.", code="username_taken")
    now = clock.now()
    with_password = isinstance(data, UserCreate)
    if with_password:
        if passwords is None:
            raise ValueError("creating an account with a password needs the password hasher")
        password_hash = passwords.hash(data.password)
    else:
        password_hash = UNUSABLE_PASSWORD
    user = User(
        username=data.username,
        full_name=data.full_name,
        password_hash=password_hash,
        role=data.role,
        is_active=True,
        password_changed_at=now if with_password else None,
        credential_version=1,
        units=[UserUnit(unit_id=unit_id) for unit_id in unit_ids],
    )
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:  # a concurrent create with the same username
        raise Conflict(f"Tên đăng nhập {data.username} đã được dùng.", code="username_taken") from None
    audit(session, actor, "create", "user", user.id, None, snapshot(user), role=data.role)
    session.flush()
    return user


def _active_admins(session: Session) -> int:
    return (
        session.scalar(select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.is_active.is_(True)))
        or 0
    )


def update_user(
    session: Session, passwords: Passwords, user: User, data: UserUpdate, actor: Principal | None = None
) -> User:
    before = snapshot(user)
    role = data.role or Role(user.role)
    losing_admin = user.role == Role.ADMIN and user.is_active and (role != Role.ADMIN or data.is_active is False)
    if losing_admin and _active_admins(session) <= 1:
        raise Conflict("Không thể bỏ quyền hoặc khóa quản trị viên cuối cùng.", code="last_admin")
    if data.unit_codes is not None or data.role is not None:
        codes = data.unit_codes
        if codes is None:  # role changed, units kept: check they still fit the new role
            codes = list(
                session.scalars(
                    select(AdministrativeUnit.code)
                    .join(UserUnit, UserUnit.unit_id == AdministrativeUnit.id)
                    .where(UserUnit.user_id == user.id)
                )
            )
        unit_ids = _resolve_jurisdiction(session, role, codes)
        session.execute(delete(UserUnit).where(UserUnit.user_id == user.id))
        session.add_all(UserUnit(user_id=user.id, unit_id=unit_id) for unit_id in unit_ids)
        user.role = role
    if data.full_name is not None:
        user.full_name = data.full_name.strip()
    if data.password is not None:
        user.password_hash = passwords.hash(data.password)
        user.password_changed_at = clock.now()
        user.credential_version += 1
        _revoke_all_for_user(session, user.id)
    if data.is_active is not None:
        user.is_active = data.is_active
        if not data.is_active:
            _revoke_all_for_user(session, user.id)
    user.updated_at = clock.now()
    audit(
        session,
        actor,
        "update",
        "user",
        user.id,
        before,
        snapshot(user),
        fields=sorted(data.model_dump(exclude_unset=True, exclude={"password"})),
    )
    session.flush()
    return user
