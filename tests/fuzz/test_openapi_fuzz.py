"""Every service's OpenAPI document fuzzed with schemathesis against the running suite, as the
admin: no answer is a 5xx and every answer matches the schema the service publishes.

Bounded for CI: a few examples per operation (SY_FUZZ_EXAMPLES), a fixed seed unless
SY_FUZZ_SEED says otherwise, and no stateful phase. Runs only with SY_FUZZ=1 (`make fuzz`).
Failures already reported to a service's owner are listed, with an expiry, in
accepted-<service>.json beside this file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sy_devkit.auth import TEST_ADMIN_TOKEN
from sy_devkit.peers import CsmsPeer
from sy_devkit.pytest_plugin import RunningSuite
from sy_devkit.suite import SERVICES

SCHEMATHESIS = str(Path(sys.executable).parent / "st")
EXAMPLES = os.environ.get("SY_FUZZ_EXAMPLES", "20")
SEED = os.environ.get("SY_FUZZ_SEED", "20261121")
# Known failures a service's owner is fixing, each with an expiry date (schemathesis baselines):
# a new failure fails the run; an accepted one fails again once it expires.
# SY_FUZZ_UPDATE=1 records the current failures (then add "expires" and a note by hand).
ACCEPTED = Path(__file__).parent
UPDATE = os.environ.get("SY_FUZZ_UPDATE") == "1"


@pytest.fixture(scope="module")
async def with_data(suite: RunningSuite) -> RunningSuite:
    """A backend and a default route, so reads have something to return."""
    peer = await CsmsPeer("fuzz").start()
    async with httpx.AsyncClient(base_url=suite.api("routing"), headers=suite.admin_headers) as api:
        await api.post(
            "/backends", json={"name": "fuzz", "url": peer.url, "ocpp_versions": ["ocpp1.6"]}
        )
        await api.put("/routes/default", json={"primary": "fuzz", "reason": "fuzz"})
    await peer.stop()
    return suite


@pytest.mark.timeout(600)
@pytest.mark.parametrize("service", SERVICES)
def test_no_5xx_and_no_schema_violation(
    with_data: RunningSuite, service: str, tmp_path: Path
) -> None:
    api = with_data.api(service)
    accepted = ACCEPTED / f"accepted-{service}.json"
    baseline = ["--baseline", str(accepted)] if accepted.exists() or UPDATE else []
    if UPDATE:
        baseline.append("--baseline-update")
    run = subprocess.run(
        [
            SCHEMATHESIS,
            "run",
            f"{api}/openapi.json",
            "--header",
            f"Authorization: Bearer {TEST_ADMIN_TOKEN}",
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            EXAMPLES,
            "--seed",
            SEED,
            # One worker: hypothesis describing strategies from several threads trips a
            # CPython 3.11 ast bug ("AST constructor recursion depth mismatch").
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--generation-database",
            "none",
            "--no-color",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
            *baseline,
        ],
        capture_output=True,
        text=True,
        timeout=580,
        check=False,
    )
    assert run.returncode == 0, (
        f"{service}: schemathesis found problems\n{run.stdout[-20000:]}\n{run.stderr[-4000:]}"
    )
