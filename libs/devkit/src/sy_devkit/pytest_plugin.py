"""The one NATS fixture and the one Postgres fixture every test uses (real servers, free ports)."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from nats.js.api import KeyValueConfig
from nats.js.kv import KeyValue

from sy_devkit.auth import ADMIN_HEADERS, TEST_ADMIN_SHA256, TEST_ADMIN_TOKEN
from sy_devkit.embedded_nats import EmbeddedNats
from sy_devkit.embedded_postgres import EmbeddedPostgres
from sy_devkit.net import free_port
from sy_devkit.otlp import SpanCollector
from sy_devkit.suite import SERVICES, ServiceProcess, Suite

# Every service built or started by a test accepts the test admin token (as its bootstrap token).
os.environ.setdefault("SY_BOOTSTRAP_TOKEN_SHA256", TEST_ADMIN_SHA256)


def _workdir(name: str) -> Path:
    # Not pytest's tmp_path: that is 0700 under root and the postgres user could not enter it.
    path = Path(tempfile.mkdtemp(prefix=f"sy-{name}-"))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def nats_server() -> Iterator[EmbeddedNats]:
    """NATS with the production users and permissions; `nats_server.url` is the unrestricted
    admin user's, `nats_server.connect_url(service)` a service user's."""
    workdir = _workdir("nats")
    server = EmbeddedNats(workdir).start()
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
async def fresh_kv(nats_server: EmbeddedNats) -> AsyncIterator[KeyValue]:
    """A KV bucket of its own for one test (e.g. shard leases), deleted afterwards."""
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    bucket = f"test-kv-{uuid.uuid4().hex[:8]}"
    yield await js.create_key_value(KeyValueConfig(bucket=bucket))
    await js.delete_key_value(bucket)
    await nc.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[EmbeddedPostgres]:
    workdir = _workdir("pg")
    server = EmbeddedPostgres(workdir, durable=False).start()
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def new_database(postgres_server: EmbeddedPostgres) -> Callable[[], str]:
    """Factory: a fresh, empty database URL each call, so tests never share data."""

    def make() -> str:
        return postgres_server.create_database(f"sy_test_{secrets.token_hex(4)}")

    return make


@dataclass
class RunningSuite:
    suite: Suite
    services: dict[str, ServiceProcess]
    nats_url: str  # the NATS admin user's URL, for tests that look at the bus
    database_url: str  # the database admin's URL; services use suite.database_urls
    ocpp_port: int
    spans: SpanCollector | None = None  # every span the services exported over OTLP

    def api(self, service: str) -> str:
        return self.services[service].api_url

    @property
    def admin_headers(self) -> dict[str, str]:
        """Authorization for the test admin (the suite's bootstrap token)."""
        return dict(ADMIN_HEADERS)

    def charger_url(self, charger_id: str, port: int | None = None) -> str:
        return f"ws://127.0.0.1:{port or self.ocpp_port}/ocpp/{charger_id}"

    def logs(self) -> str:
        parts = []
        for proc in self.suite.processes:
            if proc.log_path and proc.log_path.exists():
                parts.append(f"===== {proc.log_path.name}\n{proc.log_path.read_text()[-6000:]}")
        return "\n".join(parts)


@pytest.fixture(scope="session")
def suite(nats_server: EmbeddedNats, new_database: Callable[[], str]) -> Iterator[RunningSuite]:
    """The whole suite running as separate processes against the fixture NATS and Postgres."""
    log_dir = _workdir("logs")
    running = Suite(
        nats_url=nats_server.plain_url,
        database_url=new_database(),
        nats_admin_url=nats_server.url,  # provisions the streams and buckets
        log_dir=log_dir,
        # Every service connects as its own NATS user and its own database role.
        service_env={
            name: {
                **nats_server.service_env(name),
                # The migration controller calls routing and the journal with a token.
                **({"SY_SERVICE_TOKEN": TEST_ADMIN_TOKEN} if name == "migration" else {}),
            }
            for name in SERVICES
        },
    )
    collector = SpanCollector().start()
    running.env = {
        "SY_LOG_LEVEL": "INFO",
        "SY_LOG_FORMAT": "json",
        "SY_OTLP_ENDPOINT": collector.endpoint,
    }
    running.migrate()
    ports = {name: free_port() for name in SERVICES}
    ocpp_port = free_port()
    try:
        services = running.start(ports, ocpp_port=ocpp_port)
    except Exception:
        running.stop()
        collector.stop()
        for log in sorted(log_dir.glob("*.log")):
            print(f"===== {log.name}\n{log.read_text()[-4000:]}")
        raise
    yield RunningSuite(
        running, services, nats_server.url, running.database_url, ocpp_port, collector
    )
    running.stop()
    collector.stop()
    shutil.rmtree(log_dir, ignore_errors=True)
