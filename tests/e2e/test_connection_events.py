"""The edge publishes canonical charger_connected / charger_disconnected events (docs/events.md):
the journal's availability and reconnect metrics are built on them."""

from __future__ import annotations

import time

import nats
from nats.js.api import DeliverPolicy
from ocpp.v16 import call as c16

from sy_bus import EdgeAlive, subjects
from sy_devkit.peers import connect_charger
from sy_devkit.pytest_plugin import RunningSuite
from sy_events.models import ChargerConnected, ChargerDisconnected, parse_event
from sy_events.subjects import of_type


async def test_connect_and_disconnect_are_events(routed: RunningSuite, charger_id: str) -> None:
    async with connect_charger(routed.charger_url(charger_id), charger_id, "ocpp1.6") as (cp, _):
        await cp.call(c16.Heartbeat())
    nc = await nats.connect(routed.nats_url)
    found: list[ChargerConnected | ChargerDisconnected] = []
    try:
        for event_type in ("charger_connected", "charger_disconnected"):
            sub = await nc.jetstream().subscribe(
                of_type(event_type), ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    msg = await sub.next_msg(timeout=0.5)
                except Exception:
                    continue
                event = parse_event(msg.data)
                if event.charger_id == charger_id:
                    assert isinstance(event, ChargerConnected | ChargerDisconnected)
                    found.append(event)
                    break
            await sub.unsubscribe()
    finally:
        await nc.close()
    connected, disconnected = found
    assert isinstance(connected, ChargerConnected) and connected.ocpp == "ocpp1.6"
    assert isinstance(disconnected, ChargerDisconnected)
    assert connected.connection_id == disconnected.connection_id
    assert disconnected.close_code == 1000
    assert disconnected.reason


async def test_the_edge_announces_itself_with_its_chargers(
    routed: RunningSuite, charger_id: str
) -> None:
    """The heartbeat the connectors use to let go of a crashed edge's chargers."""
    nc = await nats.connect(routed.nats_url)
    try:
        sub = await nc.subscribe(subjects.EDGES_ALIVE_ALL)
        async with connect_charger(routed.charger_url(charger_id), charger_id, "ocpp1.6") as (
            cp,
            _,
        ):
            await cp.call(c16.Heartbeat())
            # SY_HEARTBEAT_INTERVAL_S is 5: within two intervals, one with this charger counted
            deadline = time.monotonic() + 12
            beats: list[EdgeAlive] = []
            while time.monotonic() < deadline and not any(b.chargers >= 1 for b in beats):
                msg = await sub.next_msg(timeout=deadline - time.monotonic())
                beats.append(EdgeAlive.from_bytes(msg.data))
    finally:
        await nc.close()
    assert any(b.chargers >= 1 for b in beats), beats
    beat = beats[-1]
    assert beat.started_ns < beat.ts_ns <= time.time_ns()
    assert msg.subject == subjects.edge_alive(beat.instance)
