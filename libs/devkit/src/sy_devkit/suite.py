"""Start every Switchyard service as its own process, the way `make run` and the tests do.

Each service runs `python -m sy_<name>` with its settings in `SY_*` environment variables, exactly
as in a container, so the tests exercise the same entry points an operator deploys.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from sy_devkit.net import wait_for_port

SERVICES = ("routing", "connectors", "journal", "migration", "edge")
DEFAULT_HTTP_PORTS = {"edge": 8701, "routing": 8702, "connectors": 8703, "journal": 8704}
DEFAULT_HTTP_PORTS["migration"] = 8705
DEFAULT_OCPP_PORT = 9000


@dataclass
class ServiceProcess:
    name: str
    http_port: int
    proc: subprocess.Popen[bytes]
    log_path: Path | None
    ocpp_port: int | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class Suite:
    nats_url: str
    database_url: str
    log_dir: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    processes: list[ServiceProcess] = field(default_factory=list)

    def _env(self, extra: Mapping[str, str]) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"SY_NATS_URL": self.nats_url, "SY_DATABASE_URL": self.database_url})
        env.update(self.env)
        env.update(extra)
        return env

    def migrate(self) -> None:
        for name in SERVICES:
            done = subprocess.run(
                [sys.executable, "-m", f"sy_{name}", "migrate"],
                env=self._env({}),
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise RuntimeError(f"{name}: migrations failed:\n{done.stderr[-4000:]}")

    def start_service(
        self, name: str, http_port: int, *, ocpp_port: int | None = None, **extra: str
    ) -> ServiceProcess:
        env = {"SY_HTTP_PORT": str(http_port), **extra}
        if ocpp_port is not None:
            env["SY_OCPP_PORT"] = str(ocpp_port)
        label = name if ocpp_port in (None, DEFAULT_OCPP_PORT) else f"{name}:{ocpp_port}"
        log_path = self.log_dir / f"{label}.log" if self.log_dir else None
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
        out: IO[bytes] | int = log_path.open("ab") if log_path else subprocess.PIPE
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", f"sy_{name}", "serve"],
                env=self._env(env),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        finally:
            if not isinstance(out, int):
                out.close()  # the child holds its own descriptor
        if log_path is None and proc.stdout is not None:
            threading.Thread(target=_echo, args=(label, proc.stdout), daemon=True).start()
        service = ServiceProcess(name, http_port, proc, log_path, ocpp_port)
        self.processes.append(service)
        return service

    def wait_ready(self, service: ServiceProcess, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        wait_for_port(service.http_port, timeout_s=timeout_s)
        while True:
            if not service.alive():
                raise RuntimeError(f"{service.name} exited with {service.proc.returncode}")
            try:
                if httpx.get(service.api_url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{service.name} not ready after {timeout_s:.0f}s")
            time.sleep(0.1)
        if service.ocpp_port:
            wait_for_port(service.ocpp_port, timeout_s=timeout_s)

    def start(
        self, http_ports: Mapping[str, int], ocpp_port: int = DEFAULT_OCPP_PORT
    ) -> dict[str, ServiceProcess]:
        started = {}
        for name in SERVICES:
            started[name] = self.start_service(
                name, http_ports[name], ocpp_port=ocpp_port if name == "edge" else None
            )
        for service in started.values():
            self.wait_ready(service)
        return started

    def stop(self, timeout_s: float = 15.0) -> None:
        for service in reversed(self.processes):  # edge first: chargers leave before the rest
            if service.alive():
                service.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for service in self.processes:
            try:
                service.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                service.proc.kill()
        self.processes.clear()


def _echo(label: str, stream: IO[bytes]) -> None:
    for line in iter(stream.readline, b""):
        sys.stdout.write(f"{label:<11}| {line.decode(errors='replace')}")
        sys.stdout.flush()
