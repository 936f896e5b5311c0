"""`switchyard bench --quick` end to end: every phase runs and the JSON holds every figure.
It checks the shape of the results, never the speed (the machine running tests may be busy)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_quick_bench_writes_every_figure(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sy_cli.main", "bench", "--quick", "--results", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    [result_file] = tmp_path.glob("*-quick.json")
    results = json.loads(result_file.read_text())
    assert result_file.with_suffix(".png").stat().st_size > 0
    assert results["errors"] == {}

    latency = results["latency"]
    for path in ("direct", "switchyard", "direct (1.6 only)", "switchyard (1.6 only)"):
        for stat in ("p50_ms", "p99_ms", "max_ms"):
            assert isinstance(latency["runs"][path]["all"][stat], float)
    for stat in ("p50_ms", "p99_ms", "max_ms"):
        assert isinstance(latency["added_vs_direct"]["switchyard"][stat], float)
    # the peer gateway either ran (and has figures) or says why not
    if results["ocpp_broker"]["ran"]:
        assert "ocpp-broker (1.6 only)" in latency["runs"]
    else:
        assert results["ocpp_broker"]["why"]

    paths = results["throughput"]["paths"]
    assert {"switchyard", "direct"} <= set(paths)
    assert all(step["journal_lag"]["samples"] > 0 for step in paths["switchyard"]["steps"])

    steps = results["memory"]["steps"]
    assert [s["chargers"] for s in steps] == results["options"]["memory_steps"]
    assert all(isinstance(s["edge_kib_per_charger"], float) for s in steps)
    assert all(isinstance(s["connectors_kib_per_upstream"], float) for s in steps)

    storm = results["storms"]["as_shipped"]
    assert storm["booted"] == storm["chargers"]
    assert isinstance(storm["all_booted_after_edge_ready_s"], float)

    cpu = results["cpu_per_1000_calls_per_s"]["cores"]
    assert {"edge", "connectors", "journal", "nats", "postgres"} <= set(cpu)
    assert results["profile"]["hottest_process"] in {"edge", "connectors", "journal", "csms"}
    assert (tmp_path / results["profile"]["profiles_dir"]).is_dir()
    assert {row["figure"] for row in results["headline"]}
