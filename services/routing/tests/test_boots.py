"""Attributes learned from the BootNotification the connectors keep in sy-state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import nats
import orjson
import pytest
from nats.js.kv import KeyValue

from sy_bus import ChargerState, EffectiveRoute, streams, subjects
from sy_devkit.embedded_nats import EmbeddedNats
from sy_routing.boots import BootInfo, boot_info


def boot16(vendor: str, model: str, firmware: str | None = None) -> str:
    payload: dict[str, Any] = {"chargePointVendor": vendor, "chargePointModel": model}
    if firmware:
        payload["firmwareVersion"] = firmware
    return orjson.dumps([2, "m1", "BootNotification", payload]).decode()


def boot201(vendor: str, model: str, firmware: str) -> str:
    station = {"vendorName": vendor, "model": model, "firmwareVersion": firmware}
    payload = {"chargingStation": station, "reason": "PowerUp"}
    return orjson.dumps([2, "m1", "BootNotification", payload]).decode()


def test_boot_frames_of_both_versions_are_read() -> None:
    assert boot_info(boot16("Acme", "AC22", "1.2"), "ocpp1.6") == BootInfo("Acme", "AC22", "1.2")
    assert boot_info(boot16("Acme", "AC22"), "ocpp1.6") == BootInfo("Acme", "AC22", None)
    assert boot_info(boot201("Bolt", "DC150", "7.0"), "ocpp2.0.1") == BootInfo(
        "Bolt", "DC150", "7.0"
    )
    assert boot_info('[2,"m","Heartbeat",{}]', "ocpp1.6") is None
    assert boot_info("not json", "ocpp1.6") is None
    assert boot_info('[3,"m",{}]', "ocpp1.6") is None


@pytest.fixture
async def state(nats_server: EmbeddedNats) -> AsyncIterator[KeyValue]:
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await streams.provision(js)  # as the admin, like `python -m sy_bus.provision`
    try:
        yield await js.key_value(streams.STATE.name)
    finally:
        await nc.close()


async def put_state(state: KeyValue, charger: str, ocpp: str, boot: str) -> None:
    value = ChargerState(charger, ocpp, boot=boot, updated_ns=time.time_ns())
    await state.put(subjects.charger_token(charger), value.to_bytes())


async def eventually(client: httpx.AsyncClient, path: str, check: Any) -> Any:
    for _ in range(100):
        got = await client.get(path)
        if got.status_code == 200 and check(got.json()):
            return got.json()
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never satisfied the check: {got.text}")


async def test_a_boot_is_learned_and_moves_the_charger_into_its_group(
    client: httpx.AsyncClient, kv: KeyValue, state: KeyValue, unique: str
) -> None:
    new = f"new-{unique}"
    body = {"name": new, "url": "wss://new.example/ocpp", "ocpp_versions": ["ocpp2.0.1"]}
    assert (await client.post("/backends", json=body)).status_code == 201
    group = {"name": f"bolt-{unique}", "where": {"vendor": [f"bolt-{unique}"], "firmware": ["7.*"]}}
    assert (await client.post("/groups", json=group)).status_code == 201
    assert (
        await client.put(f"/routes/groups/bolt-{unique}", json={"primary": new})
    ).status_code == 200
    cp = f"CP 1.{unique}"  # an id that needs encoding as a KV key

    await put_state(state, cp, "ocpp2.0.1", boot201(f"Bolt-{unique}", "DC150", "6.9"))
    old = await eventually(client, f"/chargers/{cp}", lambda c: c["firmware"] == "6.9")
    assert (old["vendor"], old["model"], old["ocpp"], old["groups"]) == (
        f"Bolt-{unique}",
        "DC150",
        "ocpp2.0.1",
        [],
    )
    assert old["route"]["source"] == "default"

    await put_state(state, cp, "ocpp2.0.1", boot201(f"Bolt-{unique}", "DC150", "7.1"))
    moved = await eventually(client, f"/chargers/{cp}", lambda c: c["firmware"] == "7.1")

    assert moved["groups"] == [f"bolt-{unique}"]
    [version] = (await client.get("/versions", params={"limit": 1})).json()
    assert (version["author"], version["change"]["op"], version["change"]["moved"]) == (
        "boot",
        "charger.booted",
        [cp],
    )
    assert "7.1" in version["reason"]
    entry = await kv.get(streams.route_key(cp))
    assert entry.value is not None
    assert EffectiveRoute.from_bytes(entry.value).primary.name == new
    # The operator's attributes survive the next boot.
    await client.patch(f"/chargers/{cp}", json={"site": "Berlin"})
    await put_state(state, cp, "ocpp2.0.1", boot201(f"Bolt-{unique}", "DC150", "7.2"))
    again = await eventually(client, f"/chargers/{cp}", lambda c: c["firmware"] == "7.2")
    assert again["site"] == "Berlin"


async def test_a_storm_of_boots_is_learned_in_batches(
    client: httpx.AsyncClient, state: KeyValue, unique: str
) -> None:
    """Thousands of chargers booting at once (a reconnect storm) are learned together: every
    one of them, with the last boot of each winning, and none lost between batches."""
    vendor = f"Storm-{unique}"
    chargers = [f"STORM-{unique}-{n}" for n in range(300)]
    await asyncio.gather(
        *(put_state(state, cp, "ocpp1.6", boot16(vendor, "AC22", "1.0")) for cp in chargers)
    )
    for cp in chargers[:100]:  # a second boot of a third of them: firmware updated meanwhile
        await put_state(state, cp, "ocpp1.6", boot16(vendor, "AC22", "2.0"))

    def learned(found: list[dict[str, Any]]) -> bool:
        return sorted((c["charger_id"], c["firmware"]) for c in found) == sorted(
            [(cp, "2.0") for cp in chargers[:100]] + [(cp, "1.0") for cp in chargers[100:]]
        )

    found = await eventually(client, f"/chargers?vendor={vendor}&limit=10000", learned)
    assert {c["model"] for c in found} == {"AC22"} and {c["ocpp"] for c in found} == {"ocpp1.6"}
