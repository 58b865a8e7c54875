"""Authentication and role checks as FastAPI dependencies.

Role checks are attached to routers (or routes) as dependencies, never written in route bodies.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from app.auth.models import Role
from app.auth.passwords import Passwords
from app.auth.principal import Principal
from app.auth.service import load_principal
from app.auth.tokens import TokenService
from app.database import SessionDep
from app.exceptions import Forbidden, NotAuthenticated

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_token_service(request: Request) -> TokenService:
    return request.app.state.tokens


def get_passwords(request: Request) -> Passwords:
    return request.app.state.passwords


TokensDep = Annotated[TokenService, Depends(get_token_service)]
PasswordsDep = Annotated[Passwords, Depends(get_passwords)]


def get_current_principal(
    session: SessionDep, tokens: TokensDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal:
    if not token:
        raise NotAuthenticated()
    claims = tokens.verify_access_token(token)
    principal = load_principal(session, claims.user_id, claims.credential_version)
    if principal is None:
        raise NotAuthenticated("Tài khoản không còn hiệu lực. Vui lòng đăng nhập lại.", code="invalid_token")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_current_principal)]


def get_optional_principal(
    session: SessionDep, tokens: TokensDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal | None:
    """For public endpoints that show more to staff: no token is anonymous, a bad one is 401."""
    return get_current_principal(session, tokens, token) if token else None


OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]


def require_roles(*roles: Role):
    """Dependency: the caller holds one of `roles`."""
    allowed = frozenset(roles)

    def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise Forbidden()
        return principal

    return check


AdminPrincipal = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
