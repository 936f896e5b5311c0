"""Percentiles of measured latencies (nearest rank, no interpolation)."""

from __future__ import annotations

import math


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def summary(values: list[float]) -> dict[str, float | int | None]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50_ms": _r(percentile(ordered, 50)),
        "p90_ms": _r(percentile(ordered, 90)),
        "p99_ms": _r(percentile(ordered, 99)),
        "max_ms": _r(ordered[-1] if ordered else None),
        "mean_ms": _r(sum(ordered) / len(ordered) if ordered else None),
    }


def added(path: dict[str, float | int | None], floor: dict[str, float | int | None]) -> dict:
    """What the gateway adds to a CALL: the path's p50 and p99 minus the floor's.

    The maximum is the path's slowest CALL minus the floor's median: two maxima are each one
    CALL, and the floor's can be the slower of the two (a scheduling hiccup), which made the
    difference of maxima negative.
    """
    against = {"p50_ms": "p50_ms", "p99_ms": "p99_ms", "max_ms": "p50_ms"}
    out: dict[str, float | None] = {}
    for key, floor_key in against.items():
        a, b = path.get(key), floor.get(floor_key)
        out[key] = _r(a - b) if isinstance(a, int | float) and isinstance(b, int | float) else None
    return out


def _r(value: float | int | None) -> float | None:
    return None if value is None else round(float(value), 3)
