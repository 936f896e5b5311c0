"""`switchyard run`: the whole suite on one machine, for evaluation and development.

NATS and Postgres are embedded (data under .sy/) unless SY_NATS_URL / SY_DATABASE_URL point at
real ones. Every service runs as its own process, exactly as in a container.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack

from sy_cli.endpoints import endpoints_file, state_dir, token_file
from sy_cli.http import CliError
from sy_devkit import SERVICES, EmbeddedNats, EmbeddedPostgres, Suite
from sy_devkit.net import free_port

DEFAULT_NATS_PORT = 4222
DEFAULT_PG_PORT = 5432


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _say(message: str) -> None:
    print(f"switchyard: {message}", flush=True)


def run_suite(port_base: int, ocpp_port: int, connectors: int = 1) -> int:
    state = state_dir().resolve()
    state.mkdir(parents=True, exist_ok=True)
    http_ports = {
        name: port_base + i
        for i, name in enumerate(("edge", "routing", "connectors", "journal", "migration"), start=1)
    }
    # More connectors replicas share the chargers by shard, on ports N+11, N+12, ...
    extra_ports = {f"connectors-{i}": port_base + 9 + i for i in range(2, connectors + 1)}
    for name, port in [*http_ports.items(), *extra_ports.items(), ("charger endpoint", ocpp_port)]:
        if not _port_free(port):
            raise CliError(
                f"port {port} ({name}) is in use; stop what uses it or pick other ports with "
                "--port-base N (APIs on N+1..N+5) and --ocpp-port P"
            )
    with ExitStack() as stack:
        nats_url = os.environ.get("SY_NATS_URL")
        nats_admin_url = nats_url
        service_env: dict[str, dict[str, str]] = {}
        if not nats_url:
            port = DEFAULT_NATS_PORT if _port_free(DEFAULT_NATS_PORT) else free_port()
            _say(
                f"starting embedded NATS with JetStream on 127.0.0.1:{port} (data in {state}/nats;"
                " one user per service, passwords new each run)"
            )
            server = EmbeddedNats(state / "nats", port).start()
            stack.callback(server.stop)
            nats_url, nats_admin_url = server.plain_url, server.url
            service_env = {name: server.service_env(name) for name in SERVICES}
        database_url = os.environ.get("SY_DATABASE_URL")
        if not database_url:
            port = DEFAULT_PG_PORT if _port_free(DEFAULT_PG_PORT) else free_port()
            _say(f"starting embedded Postgres on 127.0.0.1:{port} (data in {state}/postgres)")
            pg = EmbeddedPostgres(state / "postgres", port).start()
            stack.callback(pg.stop)
            database_url = pg.create_database("switchyard")
        token_sha256 = _local_admin_token()
        # The migration controller drives routing and reads the journal through their APIs;
        # locally it uses the local admin token (in a cluster: a named operator token).
        service_env.setdefault("migration", {})["SY_SERVICE_TOKEN"] = (
            token_file().read_text().strip()
        )
        # Each service gets its own database role, owning only its schema (the URL given is
        # the admin's: it creates the roles).
        # The bus's streams and buckets are provisioned as the NATS admin (the services' own
        # users may not create them); with your own NATS, SY_NATS_URL is used for that.
        suite = Suite(
            nats_url=nats_url,
            database_url=database_url,
            service_env=service_env,
            nats_admin_url=nats_admin_url,
        )
        suite.env = {
            "SY_LOG_FORMAT": os.environ.get("SY_LOG_FORMAT", "text"),
            "SY_BOOTSTRAP_TOKEN_SHA256": token_sha256,
        }
        _say(
            "provisioning the bus's streams and buckets, creating a database role per service, "
            "then running every service's migrations ..."
        )
        try:
            suite.migrate()
        except RuntimeError as exc:
            raise CliError(str(exc)) from None
        stack.callback(suite.stop)
        _say("starting " + ", ".join(SERVICES) + " ...")
        services = suite.start(http_ports, ocpp_port=ocpp_port)
        for name, port in extra_ports.items():
            services[name] = suite.start_service("connectors", port, SY_INSTANCE_ID=name)
            suite.wait_ready(services[name])
        endpoints = {name: svc.api_url for name, svc in services.items()}
        endpoints_file().write_text(json.dumps(endpoints, indent=2))
        _banner(endpoints, ocpp_port)
        return _wait(lambda: [s.name for s in services.values() if not s.alive()])


def _local_admin_token() -> str:
    """The local admin token: made on first start, kept in .sy/token (0600) for the CLI."""
    path = token_file()
    if not path.exists():
        path.write_text("sy-local-admin-" + secrets.token_urlsafe(32) + "\n")
        path.chmod(0o600)
        _say(f"created a local admin token in {path} (the CLI reads it from there)")
    return hashlib.sha256(path.read_text().strip().encode()).hexdigest()


def _banner(endpoints: dict[str, str], ocpp_port: int) -> None:
    lines = [
        "",
        "Switchyard is running.",
        f"  chargers connect to   ws://127.0.0.1:{ocpp_port}/ocpp/<chargerId>",
        "                        (subprotocol ocpp1.6 or ocpp2.0.1)",
    ]
    for name, url in endpoints.items():
        lines.append(f"  {name + ' API':<21} {url}   (docs: {url}/docs)")
    lines += [
        f"  the CLI finds these in {endpoints_file()}, and its admin token in {token_file()}",
        f"  (other tools: export SY_API_TOKEN=$(cat {token_file()}))",
        "Next: switchyard backend add legacy --url ws://<your-csms>/ocpp --ocpp 1.6",
        "      switchyard route default legacy",
        "Press Ctrl-C to stop everything.",
        "",
    ]
    print("\n".join(lines), flush=True)


def _wait(dead: Callable[[], list[str]]) -> int:
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stopping:
        gone = dead()
        if gone:
            print(
                f"switchyard: {', '.join(gone)} stopped unexpectedly; stopping the rest",
                file=sys.stderr,
            )
            return 1
        time.sleep(0.5)
    _say("stopping ...")
    return 0
