"""The peer gateway: `ocpp-broker` from PyPI, in relay mode, forwarding to the same CSMS.

Its chargers connect to ws://127.0.0.1:<port>/<organisation>/<chargerId>; each charger gets its
own upstream WebSocket to `<backend url>/<chargerId>` (OCPP 1.6 only in its relay mode).
It is run exactly as installed, with its own defaults (which log every frame at INFO).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from sy_devkit.net import free_port, wait_for_port

ORGANISATION = "bench"


class PeerBroker:
    def __init__(self, workdir: Path, backend_url: str) -> None:
        self.workdir = workdir
        self.backend_url = backend_url
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.problem: str | None = None

    @property
    def url_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}/{ORGANISATION}"

    def config(self) -> dict[str, object]:
        return {
            "broker": {"host": "127.0.0.1", "port": self.port},
            "api": {"host": "127.0.0.1", "port": free_port()},
            "organizations": [
                {
                    "name": ORGANISATION,
                    "connect_to_backend": True,
                    "ocpp_subprotocol": "ocpp1.6",
                    "backends": [{"id": "csms", "url": self.backend_url, "leader": True}],
                }
            ],
        }

    def start(self) -> PeerBroker | None:
        """Start it; on failure keep the reason in `problem` and return None."""
        exe = shutil.which("ocpp-broker-server", path=str(Path(sys.executable).parent))
        if exe is None:
            self.problem = "ocpp-broker is not installed (ocpp-broker-server not found)"
            return None
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "config.yaml"
        config.write_text(yaml.safe_dump(self.config()))
        log = (self.workdir / "ocpp-broker.log").open("ab")
        self.proc = subprocess.Popen(
            [exe, "-c", str(config)], cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        try:
            wait_for_port(self.port, timeout_s=30)
        except TimeoutError:
            tail = (self.workdir / "ocpp-broker.log").read_text(errors="replace")[-1500:]
            self.problem = f"ocpp-broker did not listen within 30 s; its log ends:\n{tail}"
            self.stop()
            return None
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
