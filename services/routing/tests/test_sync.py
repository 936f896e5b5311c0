"""Start-up: readiness waits for the full sync, which rebuilds a lost or stale bucket."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
import pytest
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from sy_bus import BackendRef, EffectiveRoute, streams
from sy_devkit.embedded_nats import EmbeddedNats
from sy_devkit.inprocess import app_client, migrate
from sy_routing.app import build_app
from sy_routing.settings import RoutingSettings

StartRouting = Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]]


async def route_in(kv: KeyValue, key: str) -> EffectiveRoute:
    entry = await kv.get(key)
    assert entry.value is not None
    return EffectiveRoute.from_bytes(entry.value)


async def test_ready_with_routes_published_and_version_gauge(
    client: httpx.AsyncClient, unique: str
) -> None:
    ready = await client.get("/readyz")
    assert ready.json()["checks"] == {"nats": "ok", "database": "ok", "routes-published": "ok"}
    body = {"name": f"legacy-{unique}", "url": "ws://legacy.example", "ocpp_versions": ["ocpp1.6"]}
    assert (await client.post("/backends", json=body)).status_code == 201
    assert (await client.put("/routes/default", json={"primary": body["name"]})).status_code == 200
    version = (await client.get("/routes")).json()["version"]
    metrics = (await client.get("/metrics")).text
    gauge = re.search(r"^sy_routing_table_version (\S+)$", metrics, re.MULTILINE)
    assert gauge is not None, metrics
    assert float(gauge.group(1)) == version


async def test_restart_rebuilds_a_purged_bucket_and_drops_stale_keys(
    start_routing: StartRouting, kv: KeyValue, unique: str
) -> None:
    legacy = BackendRef(f"legacy-{unique}", "wss://legacy.example/ocpp", ["ocpp1.6"])
    new = BackendRef(f"new-{unique}", "wss://new.example/ocpp", ["ocpp2.0.1"])
    chargers = {f"CP-1-{unique}": legacy, f"CP 2.{unique}": new}
    async with start_routing() as client:
        for backend in (legacy, new):
            body = {
                "name": backend.name,
                "url": backend.url,
                "ocpp_versions": backend.ocpp_versions,
            }
            assert (await client.post("/backends", json=body)).status_code == 201
        await client.put("/routes/default", json={"primary": legacy.name})
        for charger, backend in chargers.items():
            path = f"/routes/chargers/{charger}"
            assert (await client.put(path, json={"primary": backend.name})).status_code == 200
        version = (await client.get("/routes")).json()["version"]
    keys = [streams.DEFAULT_ROUTE_KEY, *(streams.route_key(c) for c in chargers)]
    published = {key: await route_in(kv, key) for key in keys}
    # Each key carries the version at which its own value last changed.
    assert published[streams.DEFAULT_ROUTE_KEY].version < version
    assert published[streams.route_key(f"CP 2.{unique}")].version == version
    for key in keys:
        await kv.purge(key)
    ghost = streams.route_key(f"ghost-{unique}")  # a charger the database does not know
    await kv.put(ghost, EffectiveRoute(primary=legacy, version=1).to_bytes())

    async with start_routing():  # ready only once the start-up sync is done
        assert await route_in(kv, streams.DEFAULT_ROUTE_KEY) == EffectiveRoute(
            legacy, [], published[streams.DEFAULT_ROUTE_KEY].version
        )
        for charger, backend in chargers.items():
            restored = await route_in(kv, streams.route_key(charger))
            assert restored == published[streams.route_key(charger)]
            assert restored.primary == backend
        with pytest.raises(KeyNotFoundError):
            await kv.get(ghost)


async def test_not_ready_until_the_table_can_be_read(
    nats_server: EmbeddedNats, new_database: Callable[[], str]
) -> None:
    db = new_database()  # not migrated yet: the sync fails and is retried
    app = build_app(RoutingSettings(nats_url=nats_server.url, database_url=db))
    async with app_client(app) as client:
        waiting = await client.get("/readyz")
        assert waiting.status_code == 503
        assert waiting.json()["checks"]["routes-published"].startswith("failing:")
        await migrate("sy_routing", db)
        for _ in range(200):
            if (await client.get("/readyz")).status_code == 200:
                break
            await asyncio.sleep(0.05)
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text


async def test_a_restart_rewrites_no_key(
    start_routing: StartRouting, kv: KeyValue, unique: str
) -> None:
    body = {"name": f"legacy-{unique}", "url": "ws://legacy.example", "ocpp_versions": ["ocpp1.6"]}
    async with start_routing() as client:
        assert (await client.post("/backends", json=body)).status_code == 201
        await client.put("/routes/default", json={"primary": body["name"]})
        await client.put(f"/routes/chargers/CP-{unique}", json={"primary": body["name"]})
    keys = [streams.DEFAULT_ROUTE_KEY, streams.route_key(f"CP-{unique}")]
    revisions = [(await kv.get(key)).revision for key in keys]

    async with start_routing():
        assert [(await kv.get(key)).revision for key in keys] == revisions
