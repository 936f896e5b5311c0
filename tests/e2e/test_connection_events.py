"""The edge publishes canonical charger_connected / charger_disconnected events (docs/events.md):
the journal's availability and reconnect metrics are built on them."""

from __future__ import annotations

import time

import nats
from nats.js.api import DeliverPolicy
from ocpp.v16 import call as c16

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
