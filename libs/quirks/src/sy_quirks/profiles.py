"""Quirk profiles: YAML files naming a set of rules and the chargers they are for.

```yaml
profile: acme-ac22            # unique name
description: Acme AC22 firmware 1.x sends local time and kWh
match:                        # optional; all given fields must match the BootNotification
  vendor: "Acme*"             # glob (case-insensitive) or "re:<regex>" (full match)
  model: "AC22*"
  firmware: "re:1\\..*"
include: [naive-timestamps]   # optional: other profiles' rules, by name
rules:
  - id: acme/meter-kwh
    type: unit
    ...
```

A profile without `match` is only applied when configured for a charger (or included).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from sy_quirks import jsonrepair
from sy_quirks.paths import FieldPath
from sy_quirks.rules import DIRECTIONS, MESSAGES, RULE_TYPES, Rule


class ProfileError(ValueError):
    """A profile file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class BootInfo:
    """What a charger said about itself in its BootNotification."""

    vendor: str
    model: str
    firmware: str | None = None

    @classmethod
    def from_boot(cls, payload: dict[str, Any], version: str) -> BootInfo | None:
        """From a 1.6 or 2.0.1 BootNotification request payload (None if it has no vendor)."""
        if version == "ocpp1.6":
            vendor, model = payload.get("chargePointVendor"), payload.get("chargePointModel")
            firmware = payload.get("firmwareVersion")
        else:
            station = payload.get("chargingStation")
            if not isinstance(station, dict):
                return None
            vendor, model = station.get("vendorName"), station.get("model")
            firmware = station.get("firmwareVersion")
        if not isinstance(vendor, str) or not isinstance(model, str):
            return None
        return cls(vendor, model, firmware if isinstance(firmware, str) else None)


@dataclass(frozen=True, slots=True)
class Pattern:
    text: str
    regex: re.Pattern[str]

    @classmethod
    def parse(cls, text: str) -> Pattern:
        if text.startswith("re:"):
            return cls(text, re.compile(text[3:]))
        return cls(text, re.compile(fnmatch.translate(text), re.IGNORECASE))

    def matches(self, value: str | None) -> bool:
        return value is not None and self.regex.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class Match:
    vendor: Pattern | None = None
    model: Pattern | None = None
    firmware: Pattern | None = None

    def matches(self, boot: BootInfo) -> bool:
        return all(
            pattern is None or pattern.matches(value)
            for pattern, value in (
                (self.vendor, boot.vendor),
                (self.model, boot.model),
                (self.firmware, boot.firmware),
            )
        )


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    description: str
    match: Match | None
    include: tuple[str, ...]
    rules: tuple[Rule, ...]
    source: str


def load_profile(text: str, source: str) -> Profile:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProfileError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("profile"), str):
        raise ProfileError(f"{source}: a profile is a mapping with a 'profile' name")
    name: str = doc["profile"]
    unknown = set(doc) - {"profile", "description", "match", "include", "rules"}
    if unknown:
        raise ProfileError(f"{source}: unknown keys {sorted(unknown)}")
    match = None
    if doc.get("match") is not None:
        raw = doc["match"]
        if not isinstance(raw, dict) or not raw or set(raw) - {"vendor", "model", "firmware"}:
            raise ProfileError(f"{source}: match takes vendor, model and/or firmware patterns")
        try:
            match = Match(**{k: Pattern.parse(str(v)) for k, v in raw.items()})
        except re.error as exc:
            raise ProfileError(f"{source}: bad regex in match: {exc}") from None
    rules = tuple(_rule(r, f"{source} rule {i + 1}") for i, r in enumerate(doc.get("rules") or []))
    include = doc.get("include") or []
    if not isinstance(include, list) or not all(isinstance(x, str) for x in include):
        raise ProfileError(f"{source}: include is a list of profile names")
    return Profile(name, str(doc.get("description", "")), match, tuple(include), rules, source)


def builtin_profiles() -> list[Profile]:
    """The profiles shipped in this package (sy_quirks/profiles/*.yaml)."""
    folder = files("sy_quirks").joinpath("profiles")
    return [
        load_profile(entry.read_text(encoding="utf-8"), f"sy_quirks/profiles/{entry.name}")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith((".yaml", ".yml"))
    ]


def load_directory(path: Path) -> list[Profile]:
    """Every *.yaml / *.yml profile in `path` (an operator's own profiles)."""
    return [
        load_profile(file.read_text(encoding="utf-8"), str(file))
        for file in sorted(path.iterdir())
        if file.suffix in (".yaml", ".yml")
    ]


def _rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: a rule is a mapping")
    kind = raw.get("type")
    rule_id = raw.get("id")
    if kind not in RULE_TYPES:
        raise ProfileError(f"{where}: type must be one of {sorted(RULE_TYPES)}, got {kind!r}")
    if not isinstance(rule_id, str) or not rule_id:
        raise ProfileError(f"{where}: every rule needs an id")
    where = f"{where} ({rule_id})"
    common: dict[str, Any] = {"id": rule_id}
    if raw.get("actions") is not None:
        common["actions"] = frozenset(_strings(raw["actions"], "actions", where))
    if raw.get("versions") is not None:
        common["versions"] = frozenset(_strings(raw["versions"], "versions", where))
    direction = raw.get("direction", "from_charger")
    message = raw.get("message", "call")
    if direction not in DIRECTIONS or message not in MESSAGES:
        raise ProfileError(f"{where}: direction is one of {DIRECTIONS}, message one of {MESSAGES}")
    common.update(direction=direction, message=message)
    options = {
        k: v
        for k, v in raw.items()
        if k not in ("id", "type", "actions", "versions", "direction", "message")
    }
    try:
        return _build(kind, common, options, where)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ProfileError):
            raise
        raise ProfileError(f"{where}: {exc}") from None


def _build(kind: str, common: dict[str, Any], options: dict[str, Any], where: str) -> Rule:
    cls = RULE_TYPES[kind]
    allowed = {
        "timestamp": {"fields", "zone"},
        "unit": {"objects", "value", "unit", "from", "to", "factor", "measurands"},
        "enum": {"fields", "map", "case_insensitive"},
        "truncate": set(),
        "rename": {"object", "map"},
        "json": {"fixes"},
    }[kind]
    extra = set(options) - allowed
    if extra:
        raise ProfileError(f"{where}: unknown options {sorted(extra)} for a {kind} rule")
    args: dict[str, Any] = dict(common)
    if "fields" in allowed:
        args["fields"] = tuple(
            FieldPath.parse(f) for f in _strings(options["fields"], "fields", where)
        )
    if kind == "timestamp":
        zone = str(options.get("zone", "UTC"))
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ProfileError(f"{where}: unknown time zone {zone!r}") from None
        args["zone"] = zone
    elif kind == "unit":
        args.update(
            objects=FieldPath.parse(options["objects"]),
            value=str(options.get("value", "value")),
            unit=str(options.get("unit", "unit")),
            from_unit=options["from"],
            to_unit=str(options["to"]),
            factor=Decimal(str(options["factor"])),
        )
        if options.get("measurands") is not None:
            args["measurands"] = frozenset(options["measurands"])
    elif kind == "enum":
        args["map"] = {str(k): str(v) for k, v in (options.get("map") or {}).items()}
        args["case_insensitive"] = bool(options.get("case_insensitive", False))
        if not args["map"] and not args["case_insensitive"]:
            raise ProfileError(f"{where}: an enum rule needs a map or case_insensitive: true")
    elif kind == "rename":
        if options.get("object"):
            args["object"] = FieldPath.parse(options["object"])
        args["map"] = {str(k): str(v) for k, v in (options.get("map") or {}).items()}
        if not args["map"]:
            raise ProfileError(f"{where}: a rename rule needs a map of old: new keys")
    elif kind == "json":
        fixes = tuple(_strings(options.get("fixes", list(jsonrepair.FIXES)), "fixes", where))
        bad = set(fixes) - set(jsonrepair.FIXES)
        if bad:
            raise ProfileError(f"{where}: unknown fixes {sorted(bad)}; use {jsonrepair.FIXES}")
        args["fixes"] = fixes
    rule: Rule = cls(**args)
    return rule


def _strings(value: Any, name: str, where: str) -> Iterable[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProfileError(f"{where}: {name} is a list of strings")
    return value
