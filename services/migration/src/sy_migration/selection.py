"""Which chargers a wave's selector holds, given the fleet as routing describes it: pure code."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any

from sy_migration.spec import Expression, Selector


def _values(charger: Mapping[str, Any], key: str) -> list[str]:
    value = charger.get(key)
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _any_match(values: list[str], patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(v.lower(), p.lower()) for v in values for p in patterns)


def _holds(expression: Expression, charger: Mapping[str, Any]) -> bool:
    values = _values(charger, expression.key)
    match expression.operator:
        case "Exists":
            return bool(values)
        case "DoesNotExist":
            return not values
        case "In":
            return _any_match(values, expression.values)
        case _:  # NotIn
            return not _any_match(values, expression.values)


def matches(selector: Selector, charger: Mapping[str, Any]) -> bool:
    """The charger passes the selector's labels (globs) and expressions."""
    for key, pattern in selector.match_labels.items():
        if not _any_match(_values(charger, key), [pattern]):
            return False
    return all(_holds(e, charger) for e in selector.match_expressions)


def members(
    selector: Selector,
    fleet: Iterable[Mapping[str, Any]],
    group_members: Mapping[str, Iterable[str]],
) -> list[str]:
    """The wave's chargers, sorted. `fleet` is routing's `GET /chargers`; `group_members` each
    named group's members (`GET /groups/{name}`). A charger named or listed that routing does
    not know yet (never booted) is kept when no label narrows the set: pre-flight reports it."""
    known = {c["charger_id"]: c for c in fleet}
    if selector.charger_ids or selector.groups:
        base = set(selector.charger_ids)
        for group in selector.groups:
            base.update(group_members.get(group, ()))
    else:
        base = set(known)
    narrowed = bool(selector.match_labels or selector.match_expressions)
    out = []
    for charger_id in base:
        charger = known.get(charger_id)
        if charger is None:
            if not narrowed:
                out.append(charger_id)
        elif matches(selector, charger):
            out.append(charger_id)
    return sorted(out)
