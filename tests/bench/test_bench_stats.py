"""The bench's arithmetic: what the gateway adds to a CALL, against the floor."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from switchyard_bench.stats import added


def test_added_latency_subtracts_the_floors_percentiles() -> None:
    path = {"p50_ms": 4.0, "p99_ms": 23.4, "max_ms": 53.7}
    floor = {"p50_ms": 0.4, "p99_ms": 1.7, "max_ms": 75.8}
    assert added(path, floor) == {"p50_ms": 3.6, "p99_ms": 21.7, "max_ms": 53.3}


def test_an_outlier_on_the_floor_never_makes_the_added_maximum_negative() -> None:
    path = {"p50_ms": 1.0, "p99_ms": 2.0, "max_ms": 3.0}
    floor = {"p50_ms": 0.5, "p99_ms": 1.0, "max_ms": 900.0}
    assert added(path, floor)["max_ms"] == 2.5


def test_a_missing_figure_stays_missing() -> None:
    assert added({"p50_ms": None, "p99_ms": 2.0, "max_ms": 3.0}, {"p50_ms": 0.5})["p50_ms"] is None
    assert added({"p50_ms": 1.0}, {"p50_ms": 0.5, "p99_ms": 1.0})["p99_ms"] is None
