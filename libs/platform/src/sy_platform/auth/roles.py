"""Who may do what on the admin APIs."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """viewer reads; operator changes routes, waves and exports; admin manages backends,
    credentials and tokens. Each role includes the ones below it."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a named API token, an OIDC subject or the bootstrap token."""

    name: str
    kind: str
    roles: frozenset[Role] = field(default_factory=frozenset)

    def may(self, needed: Role) -> bool:
        return any(role.rank >= needed.rank for role in self.roles)
