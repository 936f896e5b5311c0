"""Charger policies: settings for one charger id or an id pattern, merged field by field.

A selector is an exact charger id or a glob (`CP-ACME-*`, `DE*`). For each field the most specific
policy that sets it wins: the exact id first, then patterns with more literal characters; a
field no policy sets comes from the edge's settings.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass

WILDCARDS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class PolicyRule:
    selector: str
    allow_unauthenticated: bool | None = None
    validation: str | None = None
    quirk_profiles: tuple[str, ...] | None = None

    @property
    def is_pattern(self) -> bool:
        return any(ch in WILDCARDS for ch in self.selector)

    @property
    def specificity(self) -> tuple[int, int]:
        literal = sum(1 for ch in self.selector if ch not in WILDCARDS)
        return (0 if self.is_pattern else 1, literal)


@dataclass(frozen=True, slots=True)
class EffectivePolicy:
    allow_unauthenticated: bool
    validation: str
    quirk_profiles: tuple[str, ...]


class Policies:
    def __init__(self, rules: Iterable[PolicyRule], defaults: EffectivePolicy) -> None:
        self.defaults = defaults
        ordered = sorted(rules, key=lambda r: r.specificity, reverse=True)
        self._exact = {r.selector: r for r in ordered if not r.is_pattern}
        self._patterns = [
            (re.compile(fnmatch.translate(r.selector)), r) for r in ordered if r.is_pattern
        ]

    def for_charger(self, charger_id: str) -> EffectivePolicy:
        matching = [self._exact[charger_id]] if charger_id in self._exact else []
        matching += [r for regex, r in self._patterns if regex.fullmatch(charger_id)]
        allow = next(
            (r.allow_unauthenticated for r in matching if r.allow_unauthenticated is not None),
            self.defaults.allow_unauthenticated,
        )
        validation = next(
            (r.validation for r in matching if r.validation is not None),
            self.defaults.validation,
        )
        quirks = next(
            (r.quirk_profiles for r in matching if r.quirk_profiles is not None),
            self.defaults.quirk_profiles,
        )
        return EffectivePolicy(allow, validation, quirks)
