"""FastAPI dependencies: authenticate every admin API call, and demand a role.

`service_app` puts `authorize` on every router: reading needs `viewer`, changing needs `operator`.
A route that needs more declares `Depends(require_role(Role.ADMIN))` itself.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from sy_platform.auth.oidc import OidcVerifier
from sy_platform.auth.roles import Principal, Role
from sy_platform.auth.tokens import TokenDirectory

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
current_principal: ContextVar[Principal | None] = ContextVar("current_principal", default=None)


@dataclass
class Authenticator:
    tokens: TokenDirectory | None
    bootstrap_sha256: str | None
    oidc: OidcVerifier | None

    async def identify(self, token: str) -> Principal | str:
        if self.bootstrap_sha256 and hmac.compare_digest(
            hashlib.sha256(token.encode()).hexdigest(), self.bootstrap_sha256
        ):
            return Principal("bootstrap-admin", "bootstrap", frozenset({Role.ADMIN}))
        if token.startswith("sy_") and self.tokens is not None:
            return self.tokens.verify(token)
        if self.oidc is not None and token.count(".") == 2:
            return await self.oidc.verify(token)
        return "unknown token"


def _refuse(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def authenticate(request: Request) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is not None:
        return principal
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _refuse("missing bearer token: send 'Authorization: Bearer <token>'")
    authenticator: Authenticator = request.app.state.authenticator
    found = await authenticator.identify(token.strip())
    if isinstance(found, str):
        raise _refuse(found)
    request.state.principal = found
    current_principal.set(found)
    return found


PrincipalDep = Annotated[Principal, Depends(authenticate)]


def _demand(principal: Principal, needed: Role) -> None:
    if not principal.may(needed):
        have = ", ".join(sorted(principal.roles)) or "no role"
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"'{principal.name}' has {have}; this needs the {needed.value} role",
        )


async def authorize(request: Request, principal: PrincipalDep) -> Principal:
    """Reading needs viewer, changing needs operator."""
    _demand(principal, Role.VIEWER if request.method in READ_METHODS else Role.OPERATOR)
    return principal


def require_role(needed: Role) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(principal: PrincipalDep) -> Principal:
        _demand(principal, needed)
        return principal

    return check
