"""Versions: full snapshots, restore in one call, and how fast a change reaches the data plane."""

from __future__ import annotations

import asyncio
import time

import httpx
from nats.js.kv import KeyValue

from sy_bus import EffectiveRoute, streams


async def add_backend(client: httpx.AsyncClient, name: str) -> None:
    body = {"name": name, "url": f"wss://{name}.example/ocpp", "ocpp_versions": ["ocpp1.6"]}
    assert (await client.post("/backends", json=body)).status_code == 201


async def latest(client: httpx.AsyncClient) -> int:
    return int((await client.get("/routes")).json()["version"])


async def route_in(kv: KeyValue, key: str) -> EffectiveRoute:
    entry = await kv.get(key)
    assert entry.value is not None
    return EffectiveRoute.from_bytes(entry.value)


async def test_restore_brings_back_groups_and_routes_as_a_new_version(
    client: httpx.AsyncClient, kv: KeyValue, unique: str
) -> None:
    legacy, new = f"legacy-{unique}", f"new-{unique}"
    await add_backend(client, legacy)
    await add_backend(client, new)
    cp, pinned = f"CP-1-{unique}", f"CP-2-{unique}"
    await client.put("/routes/default", json={"primary": legacy})
    await client.post("/groups", json={"name": f"wave-{unique}", "chargers": [cp]})
    await client.put(f"/routes/groups/wave-{unique}", json={"primary": legacy})
    good = await latest(client)
    good_table = (await client.get("/routes")).json()
    # The cutover: the wave moves to the new CSMS, one charger pinned, with shadows.
    body = {"primary": new, "shadows": [{"backend": legacy}]}
    await client.put(f"/routes/groups/wave-{unique}", json=body)
    await client.put(f"/routes/chargers/{pinned}", json={"primary": new})
    assert (await route_in(kv, streams.route_key(cp))).primary.name == new

    rolled = await client.post(f"/versions/{good}/restore", json={"reason": "site down"})

    assert rolled.status_code == 200, rolled.text
    out = rolled.json()
    assert out["changed"] and out["restored_from"] == good and out["version"] > good
    assert sorted(out["moved"]) == sorted([cp, pinned])
    route = await route_in(kv, streams.route_key(cp))
    assert (route.primary.name, route.shadows, route.version) == (legacy, [], out["version"])
    assert (await client.get(f"/routes/chargers/{pinned}")).json()["source"] == "default"
    table = (await client.get("/routes")).json()
    assert table["groups"][0]["primary"] == good_table["groups"][0]["primary"]
    assert table["chargers"] == []
    [version] = (await client.get("/versions", params={"limit": 1})).json()
    assert (version["reason"], version["change"]["op"], version["change"]["restored"]) == (
        "site down",
        "table.restored",
        good,
    )
    detail = (await client.get(f"/versions/{good}")).json()
    assert detail["snapshot"]["group_routes"][0]["primary"] == legacy
    assert set(detail["snapshot"]["backends"]) == {legacy}

    again = (await client.post(f"/versions/{good}/restore", json={})).json()
    assert (again["changed"], again["version"]) == (False, out["version"])


async def test_restore_refuses_when_a_backend_was_deleted_since(
    client: httpx.AsyncClient, unique: str
) -> None:
    legacy, gone = f"legacy-{unique}", f"gone-{unique}"
    await add_backend(client, legacy)
    await add_backend(client, gone)
    await client.put("/routes/default", json={"primary": legacy, "shadows": [{"backend": gone}]})
    with_gone = await latest(client)
    await client.put("/routes/default", json={"primary": legacy})
    assert (await client.delete(f"/backends/{gone}")).status_code == 204
    before = await latest(client)

    refused = await client.post(f"/versions/{with_gone}/restore", json={"reason": "x"})

    assert refused.status_code == 409
    assert f"backend(s) '{gone}', deleted since" in refused.json()["detail"]
    assert await latest(client) == before
    assert (await client.post("/versions/999999/restore", json={})).status_code == 404


async def test_a_change_reaches_the_data_plane_in_under_a_second(
    client: httpx.AsyncClient, kv: KeyValue, unique: str
) -> None:
    legacy, new = f"legacy-{unique}", f"new-{unique}"
    await add_backend(client, legacy)
    await add_backend(client, new)
    cps = [f"CP-{i}-{unique}" for i in range(1000)]
    await client.post("/groups", json={"name": f"wave-{unique}", "chargers": cps})
    await client.put(f"/routes/groups/wave-{unique}", json={"primary": legacy})
    watcher = await kv.watch(streams.route_key(cps[-1]))
    seen: asyncio.Queue[tuple[float, EffectiveRoute]] = asyncio.Queue()

    async def watch() -> None:
        async for entry in watcher:
            if entry is not None and entry.value:
                seen.put_nowait((time.perf_counter(), EffectiveRoute.from_bytes(entry.value)))

    task = asyncio.create_task(watch())
    try:
        await asyncio.sleep(0.2)
        while not seen.empty():
            seen.get_nowait()  # the value from before the change
        body = {"primary": new, "reason": "cutover"}
        sent = time.perf_counter()
        put = await client.put(f"/routes/groups/wave-{unique}", json=body)
        answered = time.perf_counter()
        assert put.status_code == 200
        at, route = await asyncio.wait_for(seen.get(), 5)
        while route.primary.name != new:
            at, route = await asyncio.wait_for(seen.get(), 5)
    finally:
        task.cancel()
        await watcher.stop()  # type: ignore[no-untyped-call]
    # Keys are written before the API answers, so the watcher usually sees the change first.
    after_answer, after_request = at - answered, at - sent
    print(
        f"\nsy-routes propagation, 1000-charger group cutover: request -> watcher"
        f" {after_request * 1000:.1f} ms, API answer -> watcher {after_answer * 1000:.1f} ms"
    )
    assert after_request < 1.0
