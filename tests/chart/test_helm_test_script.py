"""The script the chart's `helm test` Pod runs, taken from the rendered ConfigMap and pointed at
a real edge (the whole suite, as processes) and at peers that must make it fail."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

from sy_devkit.net import free_port

RELEASE = "switchyard"


@pytest.fixture(scope="module")
def smoke_script(render: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    rendered = render({"externalDatabase": {"adminPassword": "unused"}})
    config = rendered.get("ConfigMap", f"{RELEASE}-helm-test")["data"]
    path = tmp_path_factory.mktemp("helm-test") / "ocpp_smoke.py"
    path.write_text(config["ocpp_smoke.py"])
    return path


async def run_smoke(script: Path, url: str, wait_s: float) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        env={**os.environ, "SY_SMOKE_URL": url, "SY_SMOKE_TIMEOUT": str(wait_s)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), wait_s + 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


@pytest.mark.e2e
async def test_passes_against_a_real_edge(smoke_script: Path, suite: Any) -> None:
    code, out = await run_smoke(smoke_script, suite.charger_url("helm-test"), 45)
    assert code == 0, out
    assert out.startswith(("OK ", "OK\t")) and ("CALLRESULT" in out or "CALLERROR" in out), out


async def test_fails_when_nothing_listens(smoke_script: Path) -> None:
    code, out = await run_smoke(smoke_script, f"ws://127.0.0.1:{free_port()}/ocpp/helm-test", 5)
    assert code == 1, out
    assert "FAIL" in out


async def test_fails_when_the_call_gets_no_answer(smoke_script: Path) -> None:
    seen: list[str] = []

    async def silent(ws: ServerConnection) -> None:
        # Accepts the charger, answers a different message id, never ours.
        frame = await ws.recv()
        seen.append(str(frame))
        await ws.send('[3, "not-your-id", {}]')
        await ws.wait_closed()

    async with serve(silent, "127.0.0.1", 0, subprotocols=[Subprotocol("ocpp1.6")]) as server:
        port = server.sockets[0].getsockname()[1]
        code, out = await run_smoke(smoke_script, f"ws://127.0.0.1:{port}/ocpp/helm-test", 2)
    assert code == 1, out
    assert "TimeoutError" in out
    assert seen and '"BootNotification"' in seen[0]


async def test_fails_when_the_edge_refuses_ocpp16(smoke_script: Path) -> None:
    async def other_protocol(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async with serve(
        other_protocol, "127.0.0.1", 0, subprotocols=[Subprotocol("ocpp2.0.1")]
    ) as server:
        port = server.sockets[0].getsockname()[1]
        code, out = await run_smoke(smoke_script, f"ws://127.0.0.1:{port}/ocpp/helm-test", 5)
    assert code == 1, out
