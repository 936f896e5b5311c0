"""The rule types. Each rule changes a decoded payload in place and says whether it did.

Every rule has an `id` (unique across loaded profiles; it labels metrics and is recorded with
each frame it changed) and may be narrowed to some `actions`, OCPP `versions`, a `direction`
(`from_charger`, the default, or `to_charger`) and a `message` kind (`call`, the default, or
`result`: the charger's answer to a backend CALL of that action).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from sy_quirks import jsonrepair
from sy_quirks.paths import FieldPath
from sy_quirks.schemas import field_schema, request_schema, truncate_to_schema
from sy_quirks.timestamps import repair_timestamp

DIRECTIONS = ("from_charger", "to_charger")
MESSAGES = ("call", "result")


@dataclass(frozen=True, kw_only=True)
class Rule(ABC):
    type: ClassVar[str]
    id: str
    actions: frozenset[str] | None = None
    versions: frozenset[str] | None = None
    direction: str = "from_charger"
    message: str = "call"

    def applies_to(self, action: str, version: str, direction: str, message: str) -> bool:
        return (
            self.direction == direction
            and self.message == message
            and (self.actions is None or action in self.actions)
            and (self.versions is None or version in self.versions)
        )

    @abstractmethod
    def apply(self, payload: dict[str, Any], action: str, version: str) -> bool:
        """Rewrite `payload` in place; True when this rule changed something."""


@dataclass(frozen=True, kw_only=True)
class TimestampRule(Rule):
    """Date-times without an offset are read in `zone` and rewritten in UTC (`...Z`)."""

    type: ClassVar[str] = "timestamp"
    fields: tuple[FieldPath, ...]
    zone: str = "UTC"

    def apply(self, payload: dict[str, Any], action: str, version: str) -> bool:
        zone = ZoneInfo(self.zone)
        changed = False
        for path in self.fields:
            for obj, key in path.locate(payload):
                value = obj[key]
                if isinstance(value, str):
                    fixed = repair_timestamp(value, zone)
                    if fixed is not None and fixed != value:
                        obj[key] = fixed
                        changed = True
        return changed


@dataclass(frozen=True, kw_only=True)
class UnitRule(Rule):
    """Values in unit `from_unit` (None: no unit given) are multiplied by `factor` and labelled
    `to_unit`, e.g. kWh -> Wh with factor 1000. Works on objects such as sampledValue, where
    `value` and `unit` are keys (or dotted paths) inside each object."""

    type: ClassVar[str] = "unit"
    objects: FieldPath
    value: str = "value"
    unit: str = "unit"
    from_unit: str | None
    to_unit: str
    factor: Decimal
    measurands: frozenset[str | None] | None = None

    def apply(self, payload: dict[str, Any], action: str, version: str) -> bool:
        changed = False
        unit_path = FieldPath.parse(self.unit)
        for obj in self.objects.objects(payload):
            if self.measurands is not None and obj.get("measurand") not in self.measurands:
                continue
            units = list(unit_path.locate(obj))
            current = units[0][0][units[0][1]] if units else None
            if current != self.from_unit or self.value not in obj:
                continue
            scaled = _scale(obj[self.value], self.factor)
            if scaled is None:
                continue
            obj[self.value] = scaled
            if units:
                units[0][0][units[0][1]] = self.to_unit
            else:
                _set(obj, unit_path, self.to_unit)
            changed = True
        return changed


@dataclass(frozen=True, kw_only=True)
class EnumRule(Rule):
    """Vendor strings mapped to the spec's values: `map` first, then (with `case_insensitive`)
    any value equal to one of the schema's enum values except for case and surrounding spaces."""

    type: ClassVar[str] = "enum"
    fields: tuple[FieldPath, ...]
    map: dict[str, str] = field(default_factory=dict)
    case_insensitive: bool = False

    def apply(self, payload: dict[str, Any], action: str, version: str) -> bool:
        changed = False
        for path in self.fields:
            canonical = self._canonical(version, action, path) if self.case_insensitive else {}
            for obj, key in path.locate(payload):
                value = obj[key]
                if not isinstance(value, str):
                    continue
                fixed = self.map.get(value)
                if fixed is None and canonical:
                    fixed = canonical.get(value.strip().casefold())
                if fixed is not None and fixed != value:
                    obj[key] = fixed
                    changed = True
        return changed

    @staticmethod
    def _canonical(version: str, action: str, path: FieldPath) -> dict[str, str]:
        root = request_schema(version, action)
        node = field_schema(root, [s.key for s in path.steps]) if root else None
        values = node.get("enum") if node else None
        if not isinstance(values, list):
            return {}
        return {str(v).casefold(): str(v) for v in values}


@dataclass(frozen=True, kw_only=True)
class TruncateRule(Rule):
    """Strings longer than the schema's maxLength for that field are cut to it."""

    type: ClassVar[str] = "truncate"

    def apply(self, payload: dict[str, Any], action: str, version: str) -> bool:
        root = request_schema(version, action)
        if root is None:
            return False
        return truncate_to_schema(payload, root) > 0


@dataclass(frozen=True, kw_only=True)
class RenameRule(Rule):
    """Keys renamed inside the object at `object` (the payload itself when empty)."""

    type: ClassVar[str] = "rename"
    object: FieldPath | None = None
    map: dict[str, str] = field(default_factory=dict)

    def apply(self, payload: dict[str, Any], action: str, version: str) -> bool:
        targets = [payload] if self.object is None else list(self.object.objects(payload))
        changed = False
        for obj in targets:
            for old, new in self.map.items():
                if old in obj and new not in obj:
                    obj[new] = obj.pop(old)
                    changed = True
        return changed


@dataclass(frozen=True, kw_only=True)
class JsonRule(Rule):
    """Text-level repair of frames that are not valid JSON (see `jsonrepair`). Applies to every
    frame of the direction; `actions` cannot narrow it because the action is not readable yet."""

    type: ClassVar[str] = "json"
    fixes: tuple[str, ...] = jsonrepair.FIXES

    def repair(self, text: str) -> tuple[str, list[str]]:
        return jsonrepair.repair(text, self.fixes)

    def apply(self, payload: dict[str, Any], action: str, version: str) -> bool:
        return False  # it works on the frame's text, before there is a payload: see repair()


RULE_TYPES: dict[str, type[Rule]] = {
    cls.type: cls for cls in (TimestampRule, UnitRule, EnumRule, TruncateRule, RenameRule, JsonRule)
}


def _scale(value: Any, factor: Decimal) -> Any:
    """`value` times `factor`, keeping its JSON type (1.6 sends numbers as strings)."""
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    scaled = (number * factor).normalize()
    text = format(scaled, "f")
    if isinstance(value, str):
        return text
    if isinstance(value, int) and scaled == scaled.to_integral_value():
        return int(scaled)
    return float(text)


def _set(obj: dict[str, Any], path: FieldPath, value: Any) -> None:
    node = obj
    for step in path.steps[:-1]:
        node = node.setdefault(step.key, {})
    node[path.steps[-1].key] = value
