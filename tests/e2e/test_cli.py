"""The `switchyard` command against the running suite: tables, --json, and one-sentence errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ocpp.v16 import call as c16

from sy_devkit.auth import TEST_ADMIN_TOKEN
from sy_devkit.peers import CsmsPeer, connect_charger
from sy_devkit.pytest_plugin import RunningSuite

SWITCHYARD = str(Path(sys.executable).parent / "switchyard")


def _cli(suite: RunningSuite, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SY_ROUTING_URL": suite.api("routing"),
        "SY_JOURNAL_URL": suite.api("journal"),
        "SY_STATE_DIR": "/nonexistent",
        "SY_API_TOKEN": TEST_ADMIN_TOKEN,
    }
    return subprocess.run(
        [SWITCHYARD, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


async def test_backend_route_and_trace(
    routed: RunningSuite, csms: CsmsPeer, charger_id: str
) -> None:
    added = _cli(routed, "backend", "add", "cli-new", "--url", csms.url, "--ocpp", "1.6")
    assert added.returncode == 0, added.stderr
    assert "cli-new" in added.stdout and "ocpp1.6" in added.stdout

    listed = _cli(routed, "backend", "list", "--json")
    assert listed.returncode == 0
    assert {"cli-new", "legacy"} <= {b["name"] for b in json.loads(listed.stdout)}

    routed_one = _cli(routed, "route", "set", charger_id, "--primary", "cli-new", "--reason", "t")
    assert routed_one.returncode == 0, routed_one.stderr
    table = _cli(routed, "route", "list")
    assert charger_id in table.stdout and "cli-new" in table.stdout

    async with connect_charger(routed.charger_url(charger_id), charger_id, "ocpp1.6") as (cp, _):
        await cp.call(c16.Heartbeat())

    trace = _cli(routed, "trace", charger_id, "--json")
    assert trace.returncode == 0, trace.stderr
    frames = json.loads(trace.stdout)
    assert [f["direction"] for f in frames] == [
        "from_charger",
        "to_backend",
        "from_backend",
        "to_charger",
    ]
    assert frames[1]["backend"] == "cli-new"
    people = _cli(routed, "trace", charger_id)
    assert "charger  -> gateway" in people.stdout
    assert "Heartbeat result" in people.stdout


def test_errors_are_one_sentence_and_non_zero(routed: RunningSuite) -> None:
    unknown = _cli(routed, "route", "set", "CP-X", "--primary", "no-such-backend")
    assert unknown.returncode == 1
    assert "no-such-backend" in unknown.stderr and "not registered" in unknown.stderr
    assert "Traceback" not in unknown.stderr

    bad = _cli(routed, "backend", "add", "Bad Name", "--url", "http://example.com")
    assert bad.returncode == 1
    assert "ws://" in bad.stderr

    env = {**os.environ, "SY_ROUTING_URL": "http://127.0.0.1:9"}
    down = subprocess.run(
        [SWITCHYARD, "backend", "list"], env=env, capture_output=True, text=True, check=False
    )
    assert down.returncode == 1
    assert "cannot reach the routing API" in down.stderr
