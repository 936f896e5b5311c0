"""A 1.6 and a 2.0.1 charger (the `ocpp` library) talk to a real CSMS through edge -> connectors
and back; the charger receives exactly what the CSMS answered, CSMS commands reach the charger,
and the journal holds every frame of both directions in order."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from ocpp.v16 import call as c16
from ocpp.v16.enums import ChargePointErrorCode, ChargePointStatus
from ocpp.v201 import call as c201

from sy_devkit.peers import CsmsPeer, connect_charger
from sy_devkit.pytest_plugin import RunningSuite


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _answers(frames: list[str]) -> list[str]:
    return [f for f in frames if f.startswith("[3,") or f.startswith("[4,")]


async def _journal(suite: RunningSuite, charger_id: str, expected: int) -> list[dict[str, Any]]:
    """The charger's frames once the journal holds at least `expected` of them."""
    deadline = time.monotonic() + 20
    async with httpx.AsyncClient(base_url=suite.api("journal"), headers=suite.admin_headers) as api:
        while True:
            res = await api.get(f"/chargers/{charger_id}/frames", params={"limit": 1000})
            assert res.status_code == 200, res.text
            frames: list[dict[str, Any]] = res.json()
            if len(frames) >= expected or time.monotonic() > deadline:
                return frames
            await asyncio.sleep(0.1)


def _assert_hops_in_order(frames: list[dict[str, Any]], charger_calls: set[str]) -> None:
    """Each charger CALL crossed four hops under its own id, in order. A backend CALL reaches the
    charger under a gateway message id (invariant 3), so each side shows its own pair of hops."""
    by_id: dict[str, list[str]] = {}
    for frame in frames:
        by_id.setdefault(frame["message_id"], []).append(frame["direction"])
    up = ["from_charger", "to_backend", "from_backend", "to_charger"]
    backend_side = ["from_backend", "to_backend"]
    charger_side = ["to_charger", "from_charger"]
    assert set(by_id) >= charger_calls
    sides = {"backend": 0, "charger": 0}
    for message_id, hops in by_id.items():
        if message_id in charger_calls:
            assert hops == up, (message_id, hops)
        else:
            assert hops in (backend_side, charger_side), (message_id, hops)
            sides["backend" if hops == backend_side else "charger"] += 1
    assert sides["backend"] == sides["charger"]
    stamps = [f["ts_ns"] for f in frames]
    assert stamps == sorted(stamps)


async def test_ocpp16_charger_full_session(
    routed: RunningSuite, csms: CsmsPeer, charger_id: str
) -> None:
    url = routed.charger_url(charger_id)
    async with connect_charger(url, charger_id, "ocpp1.6") as (charger, conn):
        boot = await charger.call(
            c16.BootNotification(charge_point_model="AC22", charge_point_vendor="Acme")
        )
        assert boot.status == "Accepted"
        await charger.call(c16.Heartbeat())
        auth = await charger.call(c16.Authorize(id_tag="TAG-1"))
        assert auth.id_tag_info["status"] == "Accepted"
        await charger.call(
            c16.StatusNotification(
                connector_id=1,
                error_code=ChargePointErrorCode.no_error,
                status=ChargePointStatus.charging,
            )
        )
        start = await charger.call(
            c16.StartTransaction(connector_id=1, id_tag="TAG-1", meter_start=1000, timestamp=_now())
        )
        tx = start.transaction_id
        await charger.call(
            c16.MeterValues(
                connector_id=1,
                transaction_id=tx,
                meter_value=[{"timestamp": _now(), "sampledValue": [{"value": "1500"}]}],
            )
        )
        await charger.call(
            c16.StopTransaction(
                meter_stop=2000, timestamp=_now(), transaction_id=tx, id_tag="TAG-1"
            )
        )

        backend = await csms.wait_for(charger_id)
        actions = [action for action, _ in backend.received]
        assert actions == [
            "BootNotification",
            "Heartbeat",
            "Authorize",
            "StatusNotification",
            "StartTransaction",
            "MeterValues",
            "StopTransaction",
        ]
        assert backend.received[5][1]["transaction_id"] == tx
        # Byte for byte: what the CSMS sent is what the charger got.
        sent_by_csms = _answers(csms.connections[charger_id].sent)
        assert _answers(conn.received) == sent_by_csms
        assert len(sent_by_csms) == 7

        # The CSMS starts a transaction remotely; the charger gets it and its answer returns.
        remote = await backend.call(c16.RemoteStartTransaction(id_tag="TAG-2", connector_id=1))
        assert remote.status == "Accepted"
        assert charger.commands == [
            ("RemoteStartTransaction", {"id_tag": "TAG-2", "connector_id": 1})
        ]

    charger_call_ids = {_id(f) for f in conn.sent if f.startswith("[2,")}
    frames = await _journal(routed, charger_id, expected=8 * 4)
    assert len(frames) == 8 * 4
    _assert_hops_in_order(frames, charger_call_ids)
    raw_from_charger = [f["raw"] for f in frames if f["direction"] == "from_charger"]
    assert raw_from_charger == conn.sent


async def test_ocpp201_charger_full_session(
    routed: RunningSuite, csms: CsmsPeer, charger_id: str
) -> None:
    url = routed.charger_url(charger_id)
    async with connect_charger(url, charger_id, "ocpp2.0.1") as (charger, conn):
        boot = await charger.call(
            c201.BootNotification(
                charging_station={"model": "DC150", "vendor_name": "Acme"}, reason="PowerUp"
            )
        )
        assert boot.status == "Accepted"
        await charger.call(c201.Heartbeat())
        auth = await charger.call(c201.Authorize(id_token={"idToken": "TAG-1", "type": "ISO14443"}))
        assert auth.id_token_info["status"] == "Accepted"
        tx = {"transactionId": "tx-" + charger_id}
        started = await charger.call(
            c201.TransactionEvent(
                event_type="Started",
                timestamp=_now(),
                trigger_reason="Authorized",
                seq_no=0,
                transaction_info=tx,
                id_token={"idToken": "TAG-1", "type": "ISO14443"},
                evse={"id": 1, "connectorId": 1},
            )
        )
        assert started.id_token_info["status"] == "Accepted"
        meter = [
            {
                "timestamp": _now(),
                "sampledValue": [{"value": 1500.0, "measurand": "Energy.Active.Import.Register"}],
            }
        ]
        await charger.call(
            c201.TransactionEvent(
                event_type="Updated",
                timestamp=_now(),
                trigger_reason="MeterValuePeriodic",
                seq_no=1,
                transaction_info=tx,
                meter_value=meter,
            )
        )
        await charger.call(
            c201.TransactionEvent(
                event_type="Ended",
                timestamp=_now(),
                trigger_reason="StopAuthorized",
                seq_no=2,
                transaction_info={**tx, "stoppedReason": "Local"},
            )
        )
        backend = await csms.wait_for(charger_id)
        assert [a for a, _ in backend.received] == [
            "BootNotification",
            "Heartbeat",
            "Authorize",
            "TransactionEvent",
            "TransactionEvent",
            "TransactionEvent",
        ]
        assert [p["event_type"] for a, p in backend.received[3:]] == ["Started", "Updated", "Ended"]
        assert _answers(conn.received) == _answers(csms.connections[charger_id].sent)

        remote = await backend.call(
            c201.RequestStartTransaction(
                id_token={"idToken": "TAG-9", "type": "Central"}, remote_start_id=42
            )
        )
        assert remote.status == "Accepted"
        assert charger.commands[0][1]["remote_start_id"] == 42

    frames = await _journal(routed, charger_id, expected=7 * 4)
    assert len(frames) == 7 * 4
    _assert_hops_in_order(frames, {_id(f) for f in conn.sent if f.startswith("[2,")})
    assert {f["ocpp"] for f in frames} == {"ocpp2.0.1"}
    assert {f["backend"] for f in frames if "backend" in f["direction"]} == {"legacy"}


def _id(frame: str) -> str:
    return frame.split('"')[1]


async def test_frames_of_other_chargers_stay_apart(routed: RunningSuite, charger_id: str) -> None:
    other = charger_id + "-b"
    for cid in (charger_id, other):
        async with connect_charger(routed.charger_url(cid), cid, "ocpp1.6") as (charger, _):
            await charger.call(c16.Heartbeat())
    mine = await _journal(routed, charger_id, expected=4)
    theirs = await _journal(routed, other, expected=4)
    assert len(mine) == len(theirs) == 4
    assert {f["message_id"] for f in mine}.isdisjoint({f["message_id"] for f in theirs})
