"""`switchyard run` (what `make run` calls) on nothing but Python: embedded NATS and Postgres,
every service up, the URLs printed and written for the CLI, and Ctrl-C stops everything."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

SWITCHYARD = str(Path(sys.executable).parent / "switchyard")


def _free_block(size: int) -> int:
    for _ in range(200):
        base = random.randrange(20000, 60000)
        ports = [base + i for i in range(size)]
        try:
            for port in ports:
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no block of free ports")


@pytest.mark.timeout(180)
def test_run_starts_everything_and_stops_on_ctrl_c() -> None:
    state = Path(tempfile.mkdtemp(prefix="sy-run-"))
    state.chmod(0o755)
    base = _free_block(12)
    env = {k: v for k, v in os.environ.items() if k not in ("SY_NATS_URL", "SY_DATABASE_URL")}
    env["SY_STATE_DIR"] = str(state)
    proc = subprocess.Popen(
        [
            SWITCHYARD,
            "run",
            "--port-base",
            str(base),
            "--ocpp-port",
            str(base + 6),
            "--connectors",
            "2",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if "Press Ctrl-C to stop everything." in line:
                break
        output = "".join(seen)
        assert "Switchyard is running." in output, output[-3000:]
        assert f"ws://127.0.0.1:{base + 6}/ocpp/<chargerId>" in output
        assert "embedded NATS" in output and "embedded Postgres" in output

        endpoints = json.loads((state / "endpoints.json").read_text())
        assert set(endpoints) == {
            "edge",
            "routing",
            "connectors",
            "connectors-2",
            "journal",
            "migration",
        }
        for url in endpoints.values():
            assert httpx.get(url + "/readyz", timeout=5).status_code == 200
        token = (state / "token").read_text().strip()
        assert (state / "token").stat().st_mode & 0o077 == 0  # readable by its owner only
        backends = endpoints["routing"] + "/backends"
        assert httpx.get(backends, timeout=5).status_code == 401
        authorized = httpx.get(backends, headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert authorized.status_code == 200
        # The two connectors replicas share the charger shards evenly.
        auth = {"Authorization": f"Bearer {token}"}
        shares: list[int] = []
        while time.monotonic() < deadline:
            shares = [
                len(httpx.get(endpoints[n] + "/shards", headers=auth, timeout=5).json()["serving"])
                for n in ("connectors", "connectors-2")
            ]
            if shares == [32, 32]:
                break
            time.sleep(0.2)
        assert shares == [32, 32]

        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        for url in endpoints.values():
            with pytest.raises(httpx.HTTPError):
                httpx.get(url + "/healthz", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
