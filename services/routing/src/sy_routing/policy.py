"""Which route a charger follows, as pure code over plain values: no database, no NATS.

Precedence: the charger's own route, then the group routes in priority order (the first group
that contains the charger wins), then the default route. A charger that resolves to the default
gets no key of its own in sy-routes: the data plane falls back to the `default` key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Literal

from sy_bus import BackendRef, EffectiveRoute

# Attributes a group can select on, each with glob patterns (any may match, case-insensitive).
SELECTABLE = ("vendor", "model", "firmware", "ocpp", "site", "criticality")


@dataclass(frozen=True, slots=True)
class Attributes:
    vendor: str | None = None
    model: str | None = None
    firmware: str | None = None
    ocpp: str | None = None
    site: str | None = None
    criticality: str | None = None
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Selector:
    """Every named attribute matches one of its globs, and the charger carries every tag."""

    patterns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()

    @classmethod
    def from_doc(cls, doc: Mapping[str, Sequence[str]]) -> Selector:
        patterns = {k: tuple(v) for k, v in doc.items() if k in SELECTABLE and v}
        return cls(patterns, frozenset(doc.get("tags", ())))

    def matches(self, attrs: Attributes | None) -> bool:
        if attrs is None:
            return False
        for name, globs in self.patterns.items():
            value = getattr(attrs, name)
            if value is None or not any(fnmatchcase(value.lower(), g.lower()) for g in globs):
                return False
        return self.tags <= attrs.tags


@dataclass(frozen=True, slots=True)
class Membership:
    """A group: chargers chosen by a selector, or listed by id."""

    name: str
    selector: Selector | None = None
    members: frozenset[str] | None = None

    def contains(self, charger_id: str, attrs: Attributes | None) -> bool:
        if self.members is not None:
            return charger_id in self.members
        return self.selector is not None and self.selector.matches(attrs)


@dataclass(frozen=True, slots=True)
class Target:
    """A backend on a route and its ACL of backend-initiated actions (None = all)."""

    backend: str
    commands: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    primary: Target
    shadows: tuple[Target, ...] = ()

    def backends(self) -> list[str]:
        return [self.primary.backend, *(s.backend for s in self.shadows)]


Source = Literal["charger", "group", "default"]


@dataclass(frozen=True, slots=True)
class Resolution:
    source: Source
    rule: Rule | None  # None: no route at all (no own, no group, no default)
    group: str | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    default: Rule | None = None
    groups: Sequence[tuple[Membership, Rule]] = ()  # in priority order

    def resolve(self, charger_id: str, own: Rule | None, attrs: Attributes | None) -> Resolution:
        if own is not None:
            return Resolution("charger", own)
        for membership, rule in self.groups:
            if membership.contains(charger_id, attrs):
                return Resolution("group", rule, membership.name)
        return Resolution("default", self.default)

    def listed(self) -> set[str]:
        """Chargers named in routed groups' lists: they are routed even before they boot."""
        found: set[str] = set()
        for membership, _ in self.groups:
            found |= membership.members or set()
        return found


def members(
    membership: Membership, fleet: Mapping[str, Attributes], also: Iterable[str] = ()
) -> list[str]:
    """The group's chargers among `fleet` (plus listed ids the fleet does not know yet)."""
    if membership.members is not None:
        return sorted(membership.members)
    candidates = set(fleet) | set(also)
    return sorted(c for c in candidates if membership.contains(c, fleet.get(c)))


def effective(rule: Rule, backends: Mapping[str, BackendRef], version: int) -> EffectiveRoute:
    """The value the data plane reads: each backend's definition with this route's ACL."""

    def ref(target: Target) -> BackendRef:
        commands = None if target.commands is None else list(target.commands)
        return dataclasses.replace(backends[target.backend], commands=commands)

    return EffectiveRoute(
        primary=ref(rule.primary), shadows=[ref(s) for s in rule.shadows], version=version
    )
