"""Routes: the default and per-charger routes, and exactly what reaches the sy-routes bucket."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from sy_bus import BackendRef, EffectiveRoute, streams
from sy_platform.db import create_engine
from sy_routing.lock import TableLock

StartRouting = Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]]


async def add_backend(client: httpx.AsyncClient, name: str) -> BackendRef:
    url = f"wss://{name}.example/ocpp"
    body = {"name": name, "url": url, "ocpp_versions": ["ocpp1.6", "ocpp2.0.1"]}
    created = await client.post("/backends", json=body)
    assert created.status_code == 201, created.text
    return BackendRef(name, url, ["ocpp1.6", "ocpp2.0.1"])


async def put_route(client: httpx.AsyncClient, charger_id: str, primary: str) -> Any:
    put = await client.put(
        f"/routes/chargers/{quote(charger_id, safe='')}", json={"primary": primary}
    )
    assert put.status_code == 200, put.text
    return put.json()


async def latest_version(client: httpx.AsyncClient) -> int:
    return int((await client.get("/routes")).json()["version"])


async def route_in(kv: KeyValue, key: str) -> EffectiveRoute:
    entry = await kv.get(key)
    assert entry.value is not None
    return EffectiveRoute.from_bytes(entry.value)


async def test_default_route_is_published(
    client: httpx.AsyncClient, kv: KeyValue, unique: str
) -> None:
    assert (await client.get("/routes/default")).status_code == 404
    legacy = await add_backend(client, f"legacy-{unique}")

    put = await client.put("/routes/default", json={"primary": legacy.name, "reason": "go live"})

    assert put.status_code == 200, put.text
    assert put.json()["source"] == "default"
    assert put.json()["kv_key"] == streams.DEFAULT_ROUTE_KEY
    assert put.json()["primary"]["name"] == legacy.name
    version = await latest_version(client)
    expected = EffectiveRoute(primary=legacy, shadows=[], version=version)
    assert await route_in(kv, streams.DEFAULT_ROUTE_KEY) == expected
    assert (await client.get("/routes/default")).json() == put.json()


async def test_unknown_backend_cannot_be_routed_to(client: httpx.AsyncClient, unique: str) -> None:
    for path in ("/routes/default", f"/routes/chargers/CP-{unique}"):
        put = await client.put(path, json={"primary": f"ghost-{unique}"})
        assert put.status_code == 404
        assert put.json()["detail"] == (
            f"backend 'ghost-{unique}' is not registered; add it with POST /backends"
        )
    assert (await client.get("/versions")).json() == []


async def test_charger_route_overrides_the_default(
    client: httpx.AsyncClient, kv: KeyValue, unique: str
) -> None:
    legacy = await add_backend(client, f"legacy-{unique}")
    new = await add_backend(client, f"new-{unique}")
    await client.put("/routes/default", json={"primary": legacy.name})
    default_version = await latest_version(client)
    moved, stays = f"CP-1-{unique}", f"CP-2-{unique}"

    own = await put_route(client, moved, new.name)

    version = await latest_version(client)
    assert version > default_version
    assert await route_in(kv, streams.route_key(moved)) == EffectiveRoute(new, [], version)
    assert (await route_in(kv, streams.DEFAULT_ROUTE_KEY)).version == default_version
    assert (own["charger_id"], own["source"], own["kv_key"]) == (
        moved,
        "charger",
        streams.route_key(moved),
    )
    assert (await client.get(f"/routes/chargers/{moved}")).json() == own
    follows = (await client.get(f"/routes/chargers/{stays}")).json()
    assert (follows["charger_id"], follows["source"]) == (stays, "default")
    assert follows["primary"]["name"] == legacy.name
    whole = (await client.get("/routes")).json()
    assert whole["version"] == version
    assert whole["default"]["primary"]["name"] == legacy.name
    assert [r["charger_id"] for r in whole["chargers"]] == [moved]


@pytest.mark.parametrize("shape", ["CP 01.{u}*", "site/7:{u}", "Ładowarka-{u}>", "{u}" + "x" * 40])
async def test_charger_ids_with_any_characters_round_trip(
    client: httpx.AsyncClient, kv: KeyValue, unique: str, shape: str
) -> None:
    charger = shape.format(u=unique)
    backend = await add_backend(client, f"legacy-{unique}")

    out = await put_route(client, charger, backend.name)

    assert out["charger_id"] == charger
    assert out["kv_key"] == streams.route_key(charger)
    assert (await route_in(kv, streams.route_key(charger))).primary == backend
    path = f"/routes/chargers/{quote(charger, safe='')}"
    assert (await client.get(path)).json() == out
    assert (await client.get("/routes")).json()["chargers"] == [out]
    assert (await client.get("/versions")).json()[0]["change"]["charger_id"] == charger
    assert (await client.delete(path)).status_code == 204
    with pytest.raises(KeyNotFoundError):
        await kv.get(streams.route_key(charger))


async def test_charger_id_longer_than_ocpp_allows_is_refused(client: httpx.AsyncClient) -> None:
    refused = await client.get("/routes/chargers/" + "C" * 49)
    assert refused.status_code == 422
    assert "charger id must be 1-48 characters" in refused.json()["detail"][0]["msg"]


async def test_removing_a_charger_route_deletes_its_key_and_it_follows_the_default(
    client: httpx.AsyncClient, kv: KeyValue, unique: str
) -> None:
    legacy = await add_backend(client, f"legacy-{unique}")
    new = await add_backend(client, f"new-{unique}")
    charger = f"CP-{unique}"
    assert (await client.get(f"/routes/chargers/{charger}")).status_code == 404
    await client.put("/routes/default", json={"primary": legacy.name})
    await put_route(client, charger, new.name)
    assert (await route_in(kv, streams.route_key(charger))).primary == new

    removed = await client.delete(f"/routes/chargers/{charger}", params={"reason": "rollback"})

    assert removed.status_code == 204
    with pytest.raises(KeyNotFoundError):
        await kv.get(streams.route_key(charger))
    follows = (await client.get(f"/routes/chargers/{charger}")).json()
    assert (follows["source"], follows["primary"]["name"]) == ("default", legacy.name)
    [version] = (await client.get("/versions", params={"limit": 1})).json()
    assert version["reason"] == "rollback"
    assert version["change"] == {
        "op": "charger.removed",
        "charger_id": charger,
        "before": {"primary": new.name, "commands": None, "shadows": []},
    }
    again = await client.delete(f"/routes/chargers/{charger}")
    assert again.status_code == 404
    assert again.json()["detail"] == f"charger '{charger}' has no route of its own"


async def test_versions_are_newest_first_and_only_for_real_changes(
    client: httpx.AsyncClient, unique: str
) -> None:
    legacy = await add_backend(client, f"legacy-{unique}")
    new = await add_backend(client, f"new-{unique}")
    charger = f"CP-{unique}"
    await put_route(client, charger, legacy.name)
    await put_route(client, charger, new.name)
    await put_route(client, charger, new.name)  # already so: not a change

    versions = (await client.get("/versions")).json()

    assert [v["change"]["op"] for v in versions] == [
        "charger.set",
        "charger.set",
        "backend.added",
        "backend.added",
    ]
    assert [v["id"] for v in versions] == sorted((v["id"] for v in versions), reverse=True)
    assert versions[0]["change"]["before"]["primary"] == legacy.name
    assert versions[0]["change"]["after"]["primary"] == new.name
    assert len((await client.get("/versions", params={"limit": 2})).json()) == 2
    assert (await client.get("/versions", params={"limit": 0})).status_code == 422


async def test_concurrent_changes_on_two_replicas_leave_the_bucket_at_the_last_commit(
    start_routing: StartRouting, kv: KeyValue, unique: str
) -> None:
    async with start_routing() as one, start_routing() as two:
        backends = [await add_backend(one, f"b{i}-{unique}") for i in range(3)]
        charger = f"CP-{unique}"

        await asyncio.gather(
            *(put_route((one, two)[i % 2], charger, backends[i % 3].name) for i in range(12))
        )

        final = (await two.get(f"/routes/chargers/{charger}")).json()
        published = await route_in(kv, streams.route_key(charger))
        assert published.primary.name == final["primary"]["name"]
        assert published.version == await latest_version(one)


async def test_a_change_waits_while_another_replica_holds_the_table(
    client: httpx.AsyncClient, database: str, kv: KeyValue, unique: str
) -> None:
    legacy = await add_backend(client, f"legacy-{unique}")
    new = await add_backend(client, f"new-{unique}")
    await client.put("/routes/default", json={"primary": legacy.name})
    engine = create_engine(database)  # what another replica would have: its own engine and lock
    try:
        async with TableLock(engine).hold():
            put = asyncio.create_task(client.put("/routes/default", json={"primary": new.name}))
            await asyncio.sleep(0.5)
            assert not put.done()
            assert (await route_in(kv, streams.DEFAULT_ROUTE_KEY)).primary == legacy
        assert (await asyncio.wait_for(put, 10)).status_code == 200
    finally:
        await engine.dispose()
    assert (await route_in(kv, streams.DEFAULT_ROUTE_KEY)).primary == new
