"""Choosing the rules for a charger and applying them to its frames."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sy_quirks.profiles import (
    BootInfo,
    Profile,
    ProfileError,
    builtin_profiles,
    load_directory,
)
from sy_quirks.rules import JsonRule, Rule


@dataclass(frozen=True)
class QuirkSet:
    """The rules in force for one charger (possibly none)."""

    profiles: tuple[str, ...]
    rules: tuple[Rule, ...]

    def __bool__(self) -> bool:
        return bool(self.rules)

    def repair_json(self, text: str, direction: str = "from_charger") -> tuple[str, list[str]]:
        """`text` after the json rules of `direction`, and the ids of the rules that changed it.
        Call it only for a frame that failed to parse."""
        applied: list[str] = []
        for rule in self.rules:
            if isinstance(rule, JsonRule) and rule.direction == direction:
                text, used = rule.repair(text)
                if used:
                    applied.append(rule.id)
        return text, applied

    def normalize(
        self,
        payload: dict[str, Any],
        *,
        action: str,
        version: str,
        direction: str = "from_charger",
        message: str = "call",
    ) -> list[str]:
        """Apply every matching rule to `payload` IN PLACE; the ids of the rules that changed it."""
        applied = []
        for rule in self.rules:
            if isinstance(rule, JsonRule):
                continue
            if rule.applies_to(action, version, direction, message) and rule.apply(
                payload, action, version
            ):
                applied.append(rule.id)
        return applied


NO_QUIRKS = QuirkSet((), ())


class QuirkBook:
    """Every known profile: the shipped ones plus an operator's own directories.

    An operator's profile with the same name as a shipped one replaces it.
    """

    def __init__(self, profiles: Iterable[Profile]) -> None:
        self._profiles: dict[str, Profile] = {}
        for profile in profiles:
            self._profiles[profile.name] = profile
        ids: dict[str, str] = {}
        for profile in self._profiles.values():
            for name in profile.include:
                if name not in self._profiles:
                    raise ProfileError(f"{profile.source}: includes unknown profile {name!r}")
            for rule in profile.rules:
                if rule.id in ids:
                    raise ProfileError(
                        f"{profile.source}: rule id {rule.id!r} is already used by profile "
                        f"{ids[rule.id]!r}"
                    )
                ids[rule.id] = profile.name
        self._select = lru_cache(maxsize=4096)(self._select_uncached)

    @classmethod
    def load(cls, directories: Sequence[Path | str] = ()) -> QuirkBook:
        profiles = builtin_profiles()
        for directory in directories:
            profiles.extend(load_directory(Path(directory)))
        return cls(profiles)

    @property
    def profiles(self) -> list[Profile]:
        return sorted(self._profiles.values(), key=lambda p: p.name)

    def __contains__(self, name: object) -> bool:
        return name in self._profiles

    def select(self, boot: BootInfo | None, configured: Sequence[str] = ()) -> QuirkSet:
        """The rules for a charger: every profile whose `match` fits its boot information, plus
        the profiles configured for it by name (unknown names are ignored), with includes."""
        return self._select(boot, tuple(configured))

    def _select_uncached(self, boot: BootInfo | None, configured: tuple[str, ...]) -> QuirkSet:
        chosen: list[str] = [n for n in configured if n in self._profiles]
        if boot is not None:
            chosen += [
                p.name for p in self.profiles if p.match is not None and p.match.matches(boot)
            ]
        names: list[str] = []
        rules: list[Rule] = []

        def add(name: str) -> None:
            if name in names:
                return
            names.append(name)
            profile = self._profiles[name]
            for included in profile.include:
                add(included)
            rules.extend(profile.rules)

        for name in chosen:
            add(name)
        return QuirkSet(tuple(names), tuple(rules)) if names else NO_QUIRKS
