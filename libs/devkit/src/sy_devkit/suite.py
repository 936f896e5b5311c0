"""Start every Switchyard service as its own process, the way `make run` and the tests do.

Each service runs `python -m sy_<name>` with its settings in `SY_*` environment variables, exactly
as in a container, so the tests exercise the same entry points an operator deploys.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from sy_devkit.layout import DEFAULT_HTTP_PORTS, DEFAULT_OCPP_PORT, SERVICES
from sy_devkit.net import wait_for_port
from sy_platform import db_roles

__all__ = ["DEFAULT_HTTP_PORTS", "DEFAULT_OCPP_PORT", "SERVICES", "ServiceProcess", "Suite"]


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
    """`database_url` is the admin connection: with `database_roles`, `migrate()` gives every
    service a role of its own (owning only its schema) and each process connects as that role.
    `service_env` holds per-service settings, e.g. each service's NATS user
    (`EmbeddedNats.service_env`). `nats_admin_url` is the NATS admin's URL (`EmbeddedNats.url`):
    `migrate()` provisions the bus's streams and buckets with it, since the services' own users
    may not."""

    nats_url: str
    database_url: str
    nats_admin_url: str | None = None
    log_dir: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    processes: list[ServiceProcess] = field(default_factory=list)
    service_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    database_roles: bool = True
    database_urls: dict[str, str] = field(default_factory=dict)

    def _env(self, service: str, extra: Mapping[str, str]) -> dict[str, str]:
        # A local suite is for trying things out: chargers without credentials may connect to
        # its edge (a deployed edge refuses them unless a policy allows it).
        env = {"SY_ALLOW_UNAUTHENTICATED": "true", **os.environ}
        env.update(
            {
                "SY_NATS_URL": self.nats_url,
                "SY_DATABASE_URL": self.database_urls.get(service, self.database_url),
            }
        )
        env.update(self.env)
        env.update(self.service_env.get(service, {}))
        env.update(extra)
        return env

    def set_up_database_roles(self) -> None:
        """One role per service (sy_<service>, a fresh password each run) owning its schema."""
        roles = [db_roles.default_role(name, secrets.token_urlsafe(24)) for name in SERVICES]
        try:
            _in_own_loop(db_roles.set_up(self.database_url, roles))
        except Exception as exc:
            raise RuntimeError(
                f"cannot create the services' database roles ({type(exc).__name__}: {exc}); "
                "the database URL must be a superuser's, or a role's with CREATEROLE that owns "
                "the database"
            ) from exc
        self.database_urls = {r.service: db_roles.role_url(self.database_url, r) for r in roles}

    def provision_bus(self) -> list[str]:
        """`python -m sy_bus.provision` as the NATS admin, as the chart's hook Job runs it."""
        assert self.nats_admin_url, "provisioning needs the NATS admin's URL"
        env = {**os.environ, **self.env, "SY_NATS_URL": self.nats_admin_url}
        for own in ("SY_NATS_USER", "SY_NATS_PASSWORD", "SY_NATS_TOKEN", "SY_NATS_CREDS"):
            env.pop(own, None)  # the admin's credentials are in its URL
        done = subprocess.run(
            [sys.executable, "-m", "sy_bus.provision"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip() or "bus provisioning failed")
        return done.stdout.splitlines()

    def migrate(self) -> None:
        """What the admin does before the services start (the chart's hooks): the bus's streams
        and buckets, each service's database role, then each service's migrations."""
        if self.nats_admin_url:
            self.provision_bus()
        if self.database_roles and not self.database_urls:
            self.set_up_database_roles()
        for name in SERVICES:
            done = subprocess.run(
                [sys.executable, "-m", f"sy_{name}", "migrate"],
                env=self._env(name, {}),
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
                env=self._env(name, env),
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
        while True:
            if not service.alive():
                raise RuntimeError(
                    f"{service.name} exited with {service.proc.returncode}"
                    + (f" (its log: {service.log_path})" if service.log_path else "")
                )
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
        # Where each service's API is, for services that call another's (migration's controller).
        apis = {
            f"SY_{name.upper()}_URL": f"http://127.0.0.1:{port}"
            for name, port in http_ports.items()
        }
        started = {}
        for name in SERVICES:
            started[name] = self.start_service(
                name, http_ports[name], ocpp_port=ocpp_port if name == "edge" else None, **apis
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


def _in_own_loop(work: Coroutine[Any, Any, Any]) -> Any:
    """Run `work` to completion even when the caller is inside an event loop (a test)."""
    result: list[Any] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(asyncio.run(work))
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name="sy-suite-setup")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]
