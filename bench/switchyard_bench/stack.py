"""Everything the bench measures, started on this machine: embedded NATS and Postgres, the five
services (sy_devkit's `Suite`, one process each, as deployed), and the CSMS peer process; the
CSMS is registered as the default backend through the routing API, as an operator would."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from sy_devkit import SERVICES, EmbeddedNats, EmbeddedPostgres, Suite
from sy_devkit.net import free_port, wait_for_port
from sy_devkit.suite import ServiceProcess

BACKEND = "bench-csms"
PROBE = '[2,"probe","BootNotification",{"chargePointVendor":"Bench","chargePointModel":"Probe"}]'


def bench_path() -> str:
    """PYTHONPATH entry that makes `switchyard_bench` importable in child processes."""
    return str(Path(__file__).resolve().parents[1])


class Stack:
    def __init__(self, workdir: Path, csms: str = "lean") -> None:
        self.workdir = workdir
        self.csms_kind = csms
        self.token = "sy-bench-" + secrets.token_urlsafe(24)
        self.nats: EmbeddedNats | None = None
        self.pg: EmbeddedPostgres | None = None
        self.suite: Suite | None = None
        self.services: dict[str, ServiceProcess] = {}
        self.csms: subprocess.Popen[bytes] | None = None
        self.csms_port = free_port()
        self.ocpp_port = free_port()

    @property
    def csms_url(self) -> str:
        return f"ws://127.0.0.1:{self.csms_port}/ocpp"

    @property
    def edge_url(self) -> str:
        return f"ws://127.0.0.1:{self.ocpp_port}/ocpp"

    def api(self, service: str) -> str:
        return self.services[service].api_url

    def start(self) -> Stack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)  # the postgres system user must be able to enter it
        self.nats = EmbeddedNats(self.workdir / "nats").start()
        self.pg = EmbeddedPostgres(self.workdir / "postgres").start()
        database_url = self.pg.create_database("switchyard")
        self.suite = Suite(
            nats_url=self.nats.plain_url,
            nats_admin_url=self.nats.url,
            database_url=database_url,
            log_dir=self.workdir / "logs",
            service_env={name: self.nats.service_env(name) for name in SERVICES},
        )
        self.suite.env = {
            "SY_BOOTSTRAP_TOKEN_SHA256": hashlib.sha256(self.token.encode()).hexdigest()
        }
        self.suite.migrate()
        ports = {name: free_port() for name in SERVICES}
        self.services = self.suite.start(ports, ocpp_port=self.ocpp_port)
        self._start_csms()
        self._route_to_csms()
        return self

    def _start_csms(self) -> None:
        env = {**os.environ, "PYTHONPATH": bench_path()}
        log = (self.workdir / "logs" / "csms.log").open("ab")
        command = [sys.executable, "-m", "switchyard_bench.csms", "--port", str(self.csms_port)]
        self.csms = subprocess.Popen(
            [*command, "--peer", self.csms_kind],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for_port(self.csms_port, timeout_s=30)

    def _route_to_csms(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.api("routing"), headers=headers, timeout=10) as api:
            created = api.post(
                "/backends",
                json={
                    "name": BACKEND,
                    "url": self.csms_url,
                    "ocpp_versions": ["ocpp1.6", "ocpp2.0.1"],
                },
            )
            created.raise_for_status()
            default = api.put("/routes/default", json={"primary": BACKEND, "reason": "bench"})
            default.raise_for_status()
        asyncio.run(self.probe())

    async def probe(self, timeout_s: float = 30.0) -> None:
        """Wait until a charger's BootNotification goes through the suite to the CSMS."""
        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            try:
                async with connect(
                    f"{self.edge_url}/BENCH-PROBE",
                    subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                ) as ws:
                    await ws.send(PROBE)
                    last = str(await asyncio.wait_for(ws.recv(), 10))
                    if last.startswith("[3"):
                        return
            except (OSError, TimeoutError) as exc:
                last = repr(exc)
            await asyncio.sleep(0.5)
        raise RuntimeError(f"the suite does not forward to the CSMS: {last}")

    def restart_edge(self, *, kill: bool = True, **env: str) -> tuple[float, float]:
        """Kill the edge (or SIGTERM it) and start a new one on the same ports.
        Returns (monotonic time it was killed, seconds until the new one was ready)."""
        assert self.suite is not None
        old = self.services["edge"]
        stopped_at = time.monotonic()
        if kill:
            old.proc.kill()
        else:
            old.proc.terminate()
        old.proc.wait(60)
        new = self.suite.start_service("edge", old.http_port, ocpp_port=self.ocpp_port, **env)
        self.suite.wait_ready(new)
        self.services["edge"] = new
        return stopped_at, time.monotonic() - stopped_at

    def pids(self) -> dict[str, list[int]]:
        """Process ids per component (Postgres: the postmaster and its backends)."""
        import psutil

        found: dict[str, list[int]] = {n: [s.proc.pid] for n, s in self.services.items()}
        if self.csms is not None:
            found["csms"] = [self.csms.pid]
        for child in psutil.Process().children(recursive=True):
            try:
                name = child.name()
            except psutil.Error:
                continue
            if name.startswith("nats-server"):
                found.setdefault("nats", []).append(child.pid)
            elif name.startswith("postgres"):
                found.setdefault("postgres", []).append(child.pid)
        return found

    def stop(self) -> None:
        if self.csms is not None and self.csms.poll() is None:
            self.csms.terminate()
            try:
                self.csms.wait(10)
            except subprocess.TimeoutExpired:
                self.csms.kill()
        if self.suite is not None:
            self.suite.stop()
        if self.pg is not None:
            self.pg.stop()
        if self.nats is not None:
            self.nats.stop()
