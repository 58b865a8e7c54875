"""Login (OAuth2 password flow), token refresh and revocation, the caller's own account,
and account administration."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request, Response, status

from app.auth import activation, service
from app.auth.dependencies import (
    AdminPrincipal,
    CurrentPrincipal,
    PasswordsDep,
    PrincipalCacheDep,
    TokensDep,
    require_roles,
)
from app.auth.models import Role
from app.auth.schemas import (
    ActivationCodeOut,
    ActivationRequest,
    PasswordChange,
    RevokeRequest,
    TokenResponse,
    UserCreate,
    UserList,
    UserOut,
    UserUpdate,
)
from app.database import SessionDep, SessionFactoryDep
from app.exceptions import FieldError, NotAuthenticated, Problem, problem_responses
from app.params import FormLine, IdPath, Limit, Offset
from app.security import ratelimit
from app.security.client import client_address

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/token",
    response_model=TokenResponse,
    responses=problem_responses(401, 422, 429),
    summary="Đăng nhập hoặc làm mới mã truy cập (OAuth2)",
)
def issue_token(
    request: Request,
    session: SessionDep,
    separate: SessionFactoryDep,
    tokens: TokensDep,
    passwords: PasswordsDep,
    grant_type: Annotated[Literal["password", "refresh_token"], Form()] = "password",
    username: Annotated[str | None, Form(max_length=64), FormLine] = None,
    password: Annotated[str | None, Form(max_length=256), FormLine] = None,
    refresh_token: Annotated[str | None, Form(max_length=200), FormLine] = None,
    scope: Annotated[str, Form(max_length=200), FormLine] = "",
) -> TokenResponse:
    """`grant_type=password` with username/password, or `grant_type=refresh_token` with the
    refresh token from an earlier answer (it is rotated: the old one stops working)."""
    required = {"password": ("username", "password"), "refresh_token": ("refresh_token",)}[grant_type]
    given = {"username": username, "password": password, "refresh_token": refresh_token}
    missing = [name for name in required if not given[name]]
    if missing:
        raise Problem(
            422,
            "validation_failed",
            "Dữ liệu không hợp lệ",
            f"Thiếu trường: {', '.join(missing)}.",
            errors=[
                FieldError(field=f"body.{name}", code="missing", message="Trường này là bắt buộc.") for name in missing
            ],
        )
    # Failed attempts per account and address are limited, checked before any password is, so
    # guessing is slow; successful logins are not counted, so they never lock anyone out.
    limiter: ratelimit.RateLimiter = request.app.state.rate_limiter
    key = (ratelimit.opaque((username or refresh_token or "").strip().lower()), client_address(request))
    failures = ratelimit.per_minute("login-failures", request.app.state.settings.login_attempts_per_15_minutes, 15)
    limiter.refuse_if_exhausted(failures, *key)
    try:
        if grant_type == "refresh_token":
            return service.refresh_tokens(session, tokens, refresh_token or "", separate)
        user = service.authenticate(session, passwords, username or "", password or "")
        return service.issue_tokens(session, tokens, user)
    except NotAuthenticated:
        limiter.hit(failures, *key)
        raise


@router.post(
    "/activate",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(422, 429),
    summary="Kích hoạt tài khoản: đặt mật khẩu bằng mã kích hoạt một lần",
)
def activate(request: Request, session: SessionDep, passwords: PasswordsDep, body: ActivationRequest) -> Response:
    """For accounts created from a spreadsheet: the one-time code from the administrator's codes
    sheet sets the first password and is used up. A wrong, used, replaced or expired code is a
    422 naming `body.code`; failed attempts are limited like failed logins."""
    limiter: ratelimit.RateLimiter = request.app.state.rate_limiter
    key = (ratelimit.opaque(body.username.strip().lower()), client_address(request))
    failures = activation.failure_limit(request.app.state.settings)
    limiter.refuse_if_exhausted(failures, *key)
    try:
        activation.activate(session, passwords, body.username, body.code, body.password)
    except Problem:
        limiter.hit(failures, *key)
        raise
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/revoke",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(422),
    summary="Đăng xuất: thu hồi mã làm mới",
)
def revoke_token(session: SessionDep, body: RevokeRequest) -> Response:
    service.revoke_refresh_token(session, body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=UserOut, responses=problem_responses(401), summary="Tài khoản đang đăng nhập")
def read_me(session: SessionDep, principal: CurrentPrincipal) -> UserOut:
    return service.user_out(session, service.get_user(session, principal.id))


@router.post(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 422),
    summary="Đổi mật khẩu của chính mình",
)
def change_password(
    session: SessionDep,
    passwords: PasswordsDep,
    principal: CurrentPrincipal,
    cached: PrincipalCacheDep,
    body: PasswordChange,
) -> Response:
    service.change_own_password(session, passwords, principal, body.current_password, body.new_password)
    cached.forget(principal.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


users_router = APIRouter(
    prefix="/users",
    tags=["users"],
    dependencies=[Depends(require_roles(Role.ADMIN))],
    responses=problem_responses(401, 403),
)


@users_router.get("", response_model=UserList, responses=problem_responses(422), summary="Danh sách tài khoản")
def list_users(
    session: SessionDep,
    role: Role | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> UserList:
    items, total = service.list_users(session, role=role, limit=limit, offset=offset)
    return UserList(items=items, total=total)


@users_router.post(
    "",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409, 422),
    summary="Tạo tài khoản",
)
def create_user(session: SessionDep, passwords: PasswordsDep, principal: AdminPrincipal, body: UserCreate) -> UserOut:
    return service.user_out(session, service.create_user(session, passwords, body, principal))


@users_router.get("/{user_id}", response_model=UserOut, responses=problem_responses(404, 422), summary="Một tài khoản")
def read_user(session: SessionDep, user_id: IdPath) -> UserOut:
    return service.user_out(session, service.get_user(session, user_id))


@users_router.patch(
    "/{user_id}",
    response_model=UserOut,
    responses=problem_responses(404, 409, 422),
    summary="Sửa tài khoản: vai trò, phạm vi, khóa/mở, đặt lại mật khẩu",
)
def update_user(
    session: SessionDep,
    passwords: PasswordsDep,
    principal: AdminPrincipal,
    cached: PrincipalCacheDep,
    user_id: IdPath,
    body: UserUpdate,
) -> UserOut:
    user = service.get_user(session, user_id)
    updated = service.update_user(session, passwords, user, body, principal)
    cached.forget(user_id)
    return service.user_out(session, updated)


@users_router.post(
    "/{user_id}/activation-code",
    response_model=ActivationCodeOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(404, 409, 422),
    summary="Cấp mã kích hoạt mới cho một tài khoản chưa kích hoạt (mã cũ hết hiệu lực)",
)
def issue_activation_code(
    request: Request, response: Response, session: SessionDep, principal: AdminPrincipal, user_id: IdPath
) -> ActivationCodeOut:
    """The code is in this answer only (never stored in clear): hand it to the account's holder."""
    settings = request.app.state.settings
    issued = activation.issue(session, principal, service.get_user(session, user_id), settings.activation_code_days)
    response.headers["Cache-Control"] = "no-store"
    return ActivationCodeOut(
        user_id=issued.user.id,
        username=issued.user.username,
        code=issued.code,
        expires_at=issued.expires_at,
        activation_url=activation.activation_url(settings.public_base_url, issued.user.username, issued.code),
    )
