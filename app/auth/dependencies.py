"""Authentication and role checks as FastAPI dependencies.

Role checks are attached to routers (or routes) as dependencies, never written in route bodies.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from app import clock
from app.auth.models import Role
from app.auth.passwords import Passwords
from app.auth.principal import Principal
from app.auth.service import load_principal, principal_of, principal_queries
from app.auth.tokens import AccessClaims, TokenService
from app.database import SessionDep
from app.exceptions import Forbidden, NotAuthenticated

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_token_service(request: Request) -> TokenService:
    return request.app.state.tokens


def get_passwords(request: Request) -> Passwords:
    return request.app.state.passwords


def get_principal_cache(request: Request) -> PrincipalCache:
    return request.app.state.principal_cache


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


# --- the lookup paths (asyncio, no thread per request) ------------------------------------------


class PrincipalCache:
    """Recently seen tokens with their verified claims and the principal behind them, for the
    read-only lookup paths only (every other route verifies and loads on each request). A
    portal sends the same token all day: its signature and account are checked again after
    `ttl` seconds, its expiry on the one clock every time. Keyed by the token, so a new login
    always loads the account afresh. A change to an account in this process (password, reset,
    role, units, lock) forgets its tokens at once; one made by another process or machine
    reaches these paths within `ttl` seconds."""

    def __init__(self, ttl: float = 5.0, size: int = 10_000) -> None:
        self._ttl, self._size = ttl, size
        self._items: OrderedDict[str, tuple[float, AccessClaims, Principal | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> tuple[AccessClaims, Principal | None] | None:
        """The claims and principal of a token seen within `ttl` seconds; raises when the
        token has expired since."""
        with self._lock:
            found = self._items.get(token)
        if found is None or found[0] < time.monotonic():
            return None
        _, claims, principal = found
        if claims.expires_at <= clock.now():
            raise NotAuthenticated("Phiên đăng nhập đã hết hạn.", code="token_expired")
        return claims, principal

    def put(self, token: str, claims: AccessClaims, principal: Principal | None) -> None:
        """Remember a token whose signature was verified, with its principal (None: the
        account no longer accepts it)."""
        with self._lock:
            self._items[token] = (time.monotonic() + self._ttl, claims, principal)
            self._items.move_to_end(token)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def forget(self, user_id: int) -> None:
        with self._lock:
            for token in [token for token, (_, claims, _) in self._items.items() if claims.user_id == user_id]:
                del self._items[token]


async def _load_principal(request: Request, token: str) -> Principal | None:
    claims = request.app.state.tokens.verify_access_token(token)
    account, units = principal_queries(claims.user_id)
    async with request.app.state.async_engine.connect() as connection:
        row = (await connection.execute(account)).first()
        unit_ids = (await connection.scalars(units)).all() if row else []
    found = principal_of(row, unit_ids, claims.credential_version)
    request.app.state.principal_cache.put(token, claims, found)
    return found


def lookup_principal(*roles: Role):
    """Dependency for the lookup paths: `get_current_principal` and `require_roles` in one,
    on the asyncio engine and through the cache (each dependency costs the hot path time)."""
    allowed = frozenset(roles)

    async def principal(request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
        if not token:
            raise NotAuthenticated()
        seen = request.app.state.principal_cache.get(token)
        found = seen[1] if seen is not None else await _load_principal(request, token)
        if found is None:
            raise NotAuthenticated("Tài khoản không còn hiệu lực. Vui lòng đăng nhập lại.", code="invalid_token")
        if found.role not in allowed:
            raise Forbidden()
        return found

    return principal


PrincipalCacheDep = Annotated[PrincipalCache, Depends(get_principal_cache)]
