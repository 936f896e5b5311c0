"""Chargers are shared among connectors replicas by shard (issue 4, "Sharding"): a replica added
mid-traffic takes half of them over gracefully, and when it is killed (SIGKILL, no goodbye) the
other replica takes them back within seconds. Through both moves the chargers keep their
sockets, every CALL they send gets its answer, and the CSMS receives every one of them, in order.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from ocpp.v16 import call as c16
from ocpp.v201 import call as c201
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from sy_bus import subjects
from sy_devkit.auth import TEST_ADMIN_TOKEN
from sy_devkit.net import free_port
from sy_devkit.peers import CsmsPeer, connect_charger
from sy_devkit.pytest_plugin import RunningSuite
from sy_devkit.suite import ServiceProcess
from sy_devkit.waiting import eventually

SECOND = "connectors-b-" + uuid.uuid4().hex[:6]
SWITCHYARD = str(Path(sys.executable).parent / "switchyard")


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def _shards(suite: RunningSuite, api_url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(headers=suite.admin_headers, timeout=5) as http:
        answer = await http.get(api_url + "/shards")
        answer.raise_for_status()
        doc: dict[str, Any] = answer.json()
        return doc


async def _links(suite: RunningSuite, api_url: str) -> set[str]:
    async with httpx.AsyncClient(headers=suite.admin_headers, timeout=5) as http:
        answer = await http.get(api_url + "/links")
        answer.raise_for_status()
        return {link["charger_id"] for link in answer.json()}


@dataclass
class Driven:
    """A charger sending MeterValues numbered 1, 2, 3, ... inside one transaction."""

    charger_id: str
    version: str
    answered: list[int] = field(default_factory=list)
    closed_by_gateway: bool = False


async def _drive(suite: RunningSuite, driven: Driven, stop: asyncio.Event) -> None:
    url = suite.charger_url(driven.charger_id)
    async with connect_charger(url, driven.charger_id, driven.version) as (charger, conn):
        if driven.version == "ocpp1.6":
            await charger.call(
                c16.BootNotification(charge_point_model="F", charge_point_vendor="V")
            )
            started = await charger.call(
                c16.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp=_now())
            )
            tx: Any = started.transaction_id
        else:
            await charger.call(
                c201.BootNotification(
                    charging_station={"model": "F", "vendor_name": "V"}, reason="PowerUp"
                )
            )
            tx = {"transactionId": "T-" + driven.charger_id}
            await charger.call(
                c201.TransactionEvent(
                    event_type="Started",
                    timestamp=_now(),
                    trigger_reason="Authorized",
                    seq_no=0,
                    transaction_info=tx,
                )
            )
        n = 0
        while not stop.is_set():
            n += 1
            value: int | str = str(n) if driven.version == "ocpp1.6" else n
            sample = [{"timestamp": _now(), "sampledValue": [{"value": value}]}]
            if driven.version == "ocpp1.6":
                answer = await charger.call(
                    c16.MeterValues(connector_id=1, transaction_id=tx, meter_value=sample)
                )
            else:
                answer = await charger.call(
                    c201.TransactionEvent(
                        event_type="Updated",
                        timestamp=_now(),
                        trigger_reason="MeterValuePeriodic",
                        seq_no=n,
                        transaction_info=tx,
                        meter_value=sample,
                    )
                )
            assert answer is not None, f"{driven.charger_id}: CALL {n} got a CALLERROR"
            driven.answered.append(n)
            await asyncio.sleep(0.03)
        driven.closed_by_gateway = conn.ws.close_code is not None


def _received(csms: CsmsPeer, driven: Driven) -> list[int]:
    """The meter readings the CSMS received from the charger, in arrival order."""
    values = []
    for action, payload in csms.history.get(driven.charger_id, []):
        if action == "MeterValues" or (
            action == "TransactionEvent" and payload.get("event_type") == "Updated"
        ):
            values.append(int(payload["meter_value"][0]["sampled_value"][0]["value"]))
    return values


def _handed_over(first_instance: str) -> set[int]:
    """The shards the first replica hands to a second one: those it prefers least (the
    rendezvous score of `sy_connectors.shards`)."""
    ranked = sorted(
        range(subjects.SHARDS), key=lambda s: zlib.crc32(f"{first_instance}/{s}".encode())
    )
    return set(ranked[: subjects.SHARDS // 2])


def _chargers(moving: set[int], count: int, *, on_moving: bool) -> list[str]:
    found: list[str] = []
    while len(found) < count:
        cid = "CP-F-" + uuid.uuid4().hex[:8]
        if (subjects.shard_of(cid) in moving) == on_moving:
            found.append(cid)
    return found


@pytest.fixture
async def first_connectors(routed: RunningSuite) -> AsyncIterator[ServiceProcess]:
    first = routed.services["connectors"]
    yield first
    # Whatever happened, leave the suite as the other tests expect it: one replica, every shard.
    await eventually(
        lambda: _serves_all(routed, first), 20, "the first replica serving every shard again"
    )


async def _serves_all(suite: RunningSuite, replica: ServiceProcess) -> bool:
    return len((await _shards(suite, replica.api_url))["serving"]) == subjects.SHARDS


async def test_a_replica_added_then_killed_mid_traffic_loses_nothing(
    routed: RunningSuite, csms: CsmsPeer, first_connectors: ServiceProcess
) -> None:
    first = first_connectors
    await eventually(lambda: _serves_all(routed, first), 20, "one replica serving every shard")
    moving = _handed_over((await _shards(routed, first.api_url))["instance"])
    movers = _chargers(moving, 4, on_moving=True)
    stayer = _chargers(moving, 1, on_moving=False)
    drivers = [
        Driven(cid, "ocpp1.6" if i % 2 == 0 else "ocpp2.0.1")
        for i, cid in enumerate(movers + stayer)
    ]
    stop = asyncio.Event()
    traffic = [asyncio.create_task(_drive(routed, d, stop)) for d in drivers]
    await eventually(_all_answering(drivers, 3), 20, "every charger charging")

    # Scale out mid-traffic: the new replica takes half of the shards, gracefully.
    second = routed.suite.start_service("connectors", free_port(), SY_INSTANCE_ID=SECOND)
    try:
        await asyncio.to_thread(routed.suite.wait_ready, second)

        async def balanced() -> bool:
            share = await _shards(routed, second.api_url)
            return len(share["serving"]) == subjects.SHARDS // 2 and not share["unowned"]

        await eventually(balanced, 20, "the shards shared by two replicas")
        assert set((await _shards(routed, second.api_url))["serving"]) == moving
        # What an operator sees: the shard map, lettered by replica.
        shown = await asyncio.to_thread(
            subprocess.run,
            [SWITCHYARD, "shards"],
            env={
                **os.environ,
                "SY_CONNECTORS_URL": second.api_url,
                "SY_STATE_DIR": "/nonexistent",
                "SY_API_TOKEN": TEST_ADMIN_TOKEN,
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shown.returncode == 0, shown.stderr
        assert f"64 charger shards, seen from {SECOND}:" in shown.stdout
        cells = "".join(line.split()[-1] for line in shown.stdout.splitlines()[1:5])
        assert sorted(set(cells)) == ["A", "B"] and cells.count("A") == cells.count("B") == 32
        assert "every shard has a replica" in shown.stdout
        await eventually(
            _relays(routed, second, movers), 20, "the moved chargers relayed by the new replica"
        )
        await eventually(_all_answering(drivers, 10), 20, "traffic flowing after the hand-over")

        # Kill it while CALLs are in flight: the CSMS holds its answers to meter values, so
        # every charger has one waiting when the replica dies (no hand-over; its leases simply
        # stop being renewed). Those CALLs must reach the CSMS again through the new owner.
        csms.answering.clear()
        await eventually(_all_in_flight(csms, drivers), 10, "a CALL of every charger in flight")
        second.proc.kill()
        killed = time.monotonic()
        await asyncio.sleep(0.2)
        csms.answering.set()  # the stayer's CALL is answered; the movers' upstreams are gone
        await eventually(
            lambda: _serves_all(routed, first), 20, "the first replica serving every shard"
        )
        took_over_s = time.monotonic() - killed
        before = {d.charger_id: len(d.answered) for d in drivers}
        await eventually(
            _all_answering(drivers, 10, before), 30, "traffic flowing after the takeover"
        )
    finally:
        stop.set()
        done = await asyncio.gather(*traffic, return_exceptions=True)
        if second.alive():
            second.proc.kill()
    failures = [r for r in done if isinstance(r, BaseException)]
    assert not failures, failures

    duplicates = {d.charger_id: len(_received(csms, d)) - len(d.answered) for d in drivers}
    print(f"takeover after kill: {took_over_s:.2f} s; CALLs delivered twice: {duplicates}")
    assert took_over_s < 10, f"takeover took {took_over_s:.1f} s"
    # The CALLs in flight on the killed replica were sent again (the CSMS had them already).
    assert all(duplicates[cid] == 1 for cid in movers), duplicates
    assert duplicates[stayer[0]] == 0, duplicates
    for d in drivers:
        assert not d.closed_by_gateway, f"{d.charger_id} lost its socket"
        assert d.answered == list(range(1, len(d.answered) + 1))  # every CALL answered
        received = _received(csms, d)
        # Nothing lost and in order; a CALL in flight at the kill may arrive twice (resent to
        # the new owner), never more.
        deduplicated = [v for i, v in enumerate(received) if i == 0 or v != received[i - 1]]
        assert deduplicated == d.answered, d.charger_id
        assert len(received) - len(deduplicated) <= 1, d.charger_id


def _all_answering(drivers: list[Driven], more: int, since: dict[str, int] | None = None) -> Any:
    async def check() -> bool:
        base = since or {}
        return all(len(d.answered) >= base.get(d.charger_id, 0) + more for d in drivers)

    return check


def _all_in_flight(csms: CsmsPeer, drivers: list[Driven]) -> Any:
    """The CSMS holds a reading of every charger, unanswered. (Not "received more than the
    charger has had answered": under load an answer sent just before the hold can still be on
    its way back, and the kill then finds nothing in flight for that charger.)"""

    async def check() -> bool:
        return all(csms.held.get(d.charger_id, 0) > 0 for d in drivers)

    return check


def _relays(suite: RunningSuite, replica: ServiceProcess, chargers: list[str]) -> Any:
    async def check() -> bool:
        return set(chargers) <= await _links(suite, replica.api_url)

    return check


async def test_a_charger_back_on_a_new_socket_keeps_its_upstream(
    routed: RunningSuite, csms: CsmsPeer
) -> None:
    """The charger's socket is replaced (its edge restarted, or it reconnected): the backend's
    connection stays, so it sees no outage, and a message id the charger uses again on its new
    socket reaches the backend under a gateway id (invariant 3), answered under the charger's."""
    charger_id = "CP-R-" + uuid.uuid4().hex[:8]
    url = routed.charger_url(charger_id)
    frame = '[2,"same-id","Heartbeat",{}]'
    async with connect(url, subprotocols=[Subprotocol("ocpp1.6")]) as first:
        await first.send(frame)
        assert json.loads(await first.recv())[:2] == [3, "same-id"]
        # The same charger on a new socket: the edge closes the old one (takeover).
        async with connect(url, subprotocols=[Subprotocol("ocpp1.6")]) as second:
            await second.send(frame)
            answer = json.loads(await asyncio.wait_for(second.recv(), 15))
            assert answer[:2] == [3, "same-id"]
    assert csms.connects[charger_id] == 1  # one upstream connection throughout
    upstream_ids = [
        json.loads(f)[1]
        for f in csms.connections[charger_id].received
        if json.loads(f)[0] == 2 and json.loads(f)[2] == "Heartbeat"
    ]
    assert len(upstream_ids) == 2 and upstream_ids[0] == "same-id"
    assert upstream_ids[1] != "same-id"  # unique on the backend's socket
