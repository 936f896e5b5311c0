"""End-to-end fixtures: the whole suite (see sy_devkit's `suite` fixture), a real CSMS built with
the `ocpp` library, and the routes that send every charger to it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from sy_devkit.net import free_port
from sy_devkit.peers import CsmsPeer
from sy_devkit.pytest_plugin import RunningSuite
from sy_devkit.suite import ServiceProcess


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
async def csms() -> AsyncIterator[CsmsPeer]:
    peer = await CsmsPeer("legacy").start()
    yield peer
    await peer.stop()


@pytest.fixture(scope="session")
async def routed(suite: RunningSuite, csms: CsmsPeer) -> RunningSuite:
    """The suite with backend 'legacy' (the CSMS peer) as every charger's default primary."""
    async with httpx.AsyncClient(base_url=suite.api("routing"), headers=suite.admin_headers) as api:
        created = await api.post(
            "/backends",
            json={"name": "legacy", "url": csms.url, "ocpp_versions": ["ocpp1.6", "ocpp2.0.1"]},
        )
        assert created.status_code == 201, created.text
        default = await api.put("/routes/default", json={"primary": "legacy", "reason": "e2e"})
        assert default.status_code == 200, default.text
    return suite


@pytest.fixture(scope="session")
def second_edge(routed: RunningSuite) -> Iterator[ServiceProcess]:
    """Another edge process on its own ports, sharing NATS and Postgres with the first."""
    edge = routed.suite.start_service("edge", free_port(), ocpp_port=free_port())
    routed.suite.wait_ready(edge)
    yield edge


@pytest.fixture
def charger_id() -> str:
    return f"CP-{uuid.uuid4().hex[:10]}"
