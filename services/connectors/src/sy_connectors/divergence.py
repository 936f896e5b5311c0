"""Comparing a shadow backend's answer with the primary's, field by field (sans-I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Fields that legitimately differ between two backends answering the same CALL.
VOLATILE = frozenset(
    {
        "currentTime",
        "transactionId",
        "idTagInfo.expiryDate",
        "idTokenInfo.cacheExpiryDateTime",
    }
)
MISSING = "<missing>"


@dataclass(frozen=True, slots=True)
class FieldDifference:
    path: str
    primary: Any
    shadow: Any


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        out = {}
        for i, inner in enumerate(value):
            out.update(flatten(inner, f"{prefix}[{i}]"))
        return out or {prefix: []}
    return {prefix: value}


def compare(
    primary: dict[str, Any] | None,
    shadow: dict[str, Any] | None,
    ignore: frozenset[str] = VOLATILE,
) -> list[FieldDifference]:
    """Differences between two answers' payloads. None stands for a CALLERROR / no answer."""
    if primary is None or shadow is None:
        if (primary is None) == (shadow is None):
            return []
        return [FieldDifference("$answer", _kind(primary), _kind(shadow))]
    a, b = flatten(primary), flatten(shadow)
    diffs = []
    for path in sorted(set(a) | set(b)):
        if path in ignore:
            continue
        left, right = a.get(path, MISSING), b.get(path, MISSING)
        if left != right:
            diffs.append(FieldDifference(path, left, right))
    return diffs


def _kind(payload: dict[str, Any] | None) -> str:
    return "CALLRESULT" if payload is not None else "CALLERROR or no answer"
