"""Authentication and roles for every service's admin API."""

from sy_platform.auth.guard import (
    Authenticator,
    PrincipalDep,
    authenticate,
    authorize,
    current_principal,
    require_role,
)
from sy_platform.auth.roles import Principal, Role
from sy_platform.auth.tokens import TokenDirectory, TokenRecord, new_token

__all__ = [
    "Authenticator",
    "Principal",
    "PrincipalDep",
    "Role",
    "TokenDirectory",
    "TokenRecord",
    "authenticate",
    "authorize",
    "current_principal",
    "new_token",
    "require_role",
]
