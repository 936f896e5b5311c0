"""Fixtures for the routing service's component tests: the real app on real NATS and Postgres.

All tests share one NATS server and so one sy-routes bucket: tests use unique backend names and
charger ids (the `unique` fixture) and never assume the bucket is empty.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import nats
import pytest
from nats.js.kv import KeyValue

from sy_bus import streams
from sy_devkit.embedded_nats import EmbeddedNats
from sy_devkit.inprocess import app_client, migrate
from sy_routing.app import build_app
from sy_routing.settings import RoutingSettings

StartRouting = Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]]


async def wait_ready(client: httpx.AsyncClient, timeout_s: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        ready = await client.get("/readyz")
        if ready.status_code == 200:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"routing not ready: {ready.text}")
        await asyncio.sleep(0.05)


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
async def database(new_database: Callable[[], str]) -> str:
    db = new_database()
    await migrate("sy_routing", db)
    return db


@pytest.fixture
def start_routing(nats_server: EmbeddedNats, database: str) -> StartRouting:
    """Start (or restart) the service on this test's database; yields a client once ready."""

    @asynccontextmanager
    async def start() -> AsyncIterator[httpx.AsyncClient]:
        app = build_app(RoutingSettings(nats_url=nats_server.url, database_url=database))
        async with app_client(app) as client:
            await wait_ready(client)
            yield client

    return start


@pytest.fixture
async def client(start_routing: StartRouting) -> AsyncIterator[httpx.AsyncClient]:
    async with start_routing() as client:
        yield client


@pytest.fixture
async def kv(nats_server: EmbeddedNats) -> AsyncIterator[KeyValue]:
    """The sy-routes bucket, read through a NATS connection of the test's own."""
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await streams.provision(js)  # as the admin, like `python -m sy_bus.provision`
    try:
        yield await js.key_value(streams.ROUTES.name)
    finally:
        await nc.close()
