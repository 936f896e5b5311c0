"""A charger's boot and statuses in sy-state: boots at keys of their own, statuses apart, and
records of the layout before that still read (real NATS)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import nats
import pytest
from nats.js.kv import KeyValue

from sy_bus import ChargerState, streams, subjects
from sy_codec import Call, OcppVersion
from sy_connectors.memory import ChargerMemory
from sy_devkit.embedded_nats import EmbeddedNats

V16 = OcppVersion.V16
BOOT = '[2,"b1","BootNotification",{"chargePointVendor":"MemoryTest","chargePointModel":"MT1"}]'


def status(connector: int, state: str) -> tuple[Call, str]:
    payload = {"connectorId": connector, "status": state, "errorCode": "NoError"}
    body = f'{{"connectorId":{connector},"status":"{state}"}}'
    text = f'[2,"s{connector}","StatusNotification",{body}]'
    return Call(f"s{connector}", "StatusNotification", payload), text


@pytest.fixture
async def buckets(nats_server: EmbeddedNats) -> AsyncIterator[tuple[KeyValue, KeyValue]]:
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await streams.provision(js)  # as the admin, like `python -m sy_bus.provision`
    try:
        yield await js.key_value(streams.STATE.name), await js.key_value(streams.TRANSACTIONS.name)
    finally:
        await nc.close()


def charger() -> str:
    return f"CP.{uuid.uuid4().hex[:8]}"  # an id that needs encoding as a key


async def test_a_boot_watcher_sees_boots_and_no_status(buckets: tuple[KeyValue, KeyValue]) -> None:
    state_kv, tx_kv = buckets
    cp = charger()
    watcher = await state_kv.watch(streams.STATE_BOOT_KEYS)
    try:
        memory = ChargerMemory(cp, V16, state_kv, tx_kv)
        memory.observe(Call("b1", "BootNotification", {}), BOOT)
        for connector in (1, 2, 1):
            memory.observe(*status(connector, "Charging"))
        memory.observe(Call("b1", "BootNotification", {}), BOOT.replace("b1", "b2"))
        await memory.flush()

        seen: list[ChargerState] = []
        while len(seen) < 2:
            entry = await asyncio.wait_for(watcher.updates(), timeout=5)
            if entry and entry.value and subjects.charger_id_from_token(entry.key) == cp:
                seen.append(ChargerState.from_bytes(entry.value))
        with pytest.raises(TimeoutError):  # nothing else for this charger: no status woke it
            while True:
                entry = await asyncio.wait_for(watcher.updates(), timeout=0.5)
                assert entry is None or subjects.charger_id_from_token(entry.key) != cp
    finally:
        await watcher.stop()  # type: ignore[no-untyped-call]

    assert [s.boot for s in seen] == [BOOT, BOOT.replace("b1", "b2")]
    again = ChargerMemory(cp, V16, state_kv, tx_kv)
    await again.load()
    assert again.state.boot == BOOT.replace("b1", "b2")
    assert sorted(again.state.statuses) == ["0/1", "0/2"]
    assert next(frame for _, frame in again.replay()).count("BootNotification") == 1


async def test_statuses_come_from_the_later_record(buckets: tuple[KeyValue, KeyValue]) -> None:
    state_kv, tx_kv = buckets
    cp = charger()
    memory = ChargerMemory(cp, V16, state_kv, tx_kv)
    memory.observe(*status(1, "Available"))
    memory.observe(Call("b1", "BootNotification", {}), BOOT)  # the boot record carries statuses
    memory.observe(*status(1, "Charging"))
    await memory.flush()

    again = ChargerMemory(cp, V16, state_kv, tx_kv)
    await again.load()
    assert again.state.boot == BOOT
    assert "Charging" in again.state.statuses["0/1"]


async def test_a_record_of_the_old_layout_is_read(buckets: tuple[KeyValue, KeyValue]) -> None:
    """Before boots had keys of their own, one record at the boot key held boot and statuses."""
    state_kv, tx_kv = buckets
    cp = charger()
    _, text = status(1, "Faulted")
    old = ChargerState(cp, V16.value, BOOT, {"0/1": text}, time.time_ns())
    await state_kv.put(subjects.charger_token(cp), old.to_bytes())

    memory = ChargerMemory(cp, V16, state_kv, tx_kv)
    await memory.load()
    assert (memory.state.boot, memory.state.statuses) == (BOOT, {"0/1": text})

    memory.observe(*status(2, "Available"))  # the next status is written the new way, and kept
    await memory.flush()
    again = ChargerMemory(cp, V16, state_kv, tx_kv)
    await again.load()
    assert sorted(again.state.statuses) == ["0/1", "0/2"]
