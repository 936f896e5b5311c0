"""Several backends commanding one charger (issue 4, "Id mapping per backend"), over real sockets
with two real CSMS peers: a primary and a shadow whose ACL lets it send commands. They pick the
same reservation, charging-profile, remote-start and request ids; the charger sees distinct ones,
and each backend sees its own ids in what the charger sends back (reports go to the backend that
asked, alone). Their CALLs reach the charger one at a time, and the id map survives a restart
of the connectors.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nats
import pytest
from ocpp.v16 import call as c16
from ocpp.v201 import call as c201
from websockets.asyncio.client import connect

from sy_bus import EffectiveRoute, streams
from sy_devkit.peers import CsmsPeer, connect_charger
from sy_devkit.pytest_plugin import RunningSuite
from sy_devkit.waiting import eventually

COMMANDS_16 = ["CancelReservation", "ChangeAvailability", "ClearChargingProfile", "GetLog",
               "ReserveNow", "SetChargingProfile"]  # fmt: skip
COMMANDS_201 = ["GetBaseReport", "RequestStartTransaction", "ReserveNow", "SetChargingProfile"]


def _now(after_s: float = 0) -> str:
    when = datetime.now(UTC) + timedelta(seconds=after_s)
    return when.isoformat().replace("+00:00", "Z")


class Pair:
    """Two CSMS peers registered as backends: `primary` and `shadow` on each charger's route."""

    def __init__(self, suite: RunningSuite, primary: CsmsPeer, shadow: CsmsPeer) -> None:
        self.suite = suite
        self.primary, self.shadow = primary, shadow
        self.nc: Any = None

    async def route(self, charger_id: str, shadow_commands: list[str]) -> None:
        body = {
            "primary": self.primary.name,
            "shadows": [{"backend": self.shadow.name, "commands": shadow_commands}],
            "reason": "e2e id mapping",
        }
        suite = self.suite
        async with httpx.AsyncClient(
            base_url=suite.api("routing"), headers=suite.admin_headers
        ) as api:
            done = await api.put(f"/routes/chargers/{charger_id}", json=body)
            assert done.status_code == 200, done.text
        kv = await self.nc.jetstream().key_value(streams.ROUTES.name)
        deadline = time.monotonic() + 5
        while True:  # until the connectors' table (the KV key they watch) shows it
            try:
                entry = await kv.get(streams.route_key(charger_id))
                route = EffectiveRoute.from_bytes(entry.value or b"")
                if [s.name for s in route.shadows] == [self.shadow.name]:
                    break
            except Exception:  # not published yet
                pass
            assert time.monotonic() < deadline, "route not published within 5 s"
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)

    async def sessions(self, charger_id: str, connects: int = 1) -> tuple[Any, Any]:
        return (
            await self.primary.wait_for(charger_id, connects=connects),
            await self.shadow.wait_for(charger_id, connects=connects),
        )


@pytest.fixture(scope="module")
async def pair(routed: RunningSuite) -> AsyncIterator[Pair]:
    suffix = uuid.uuid4().hex[:6]
    primary = await CsmsPeer(f"ids-primary-{suffix}", first_transaction_id=100).start()
    shadow = await CsmsPeer(f"ids-shadow-{suffix}", first_transaction_id=700).start()
    async with httpx.AsyncClient(
        base_url=routed.api("routing"), headers=routed.admin_headers
    ) as api:
        for peer in (primary, shadow):
            body = {"name": peer.name, "url": peer.url, "ocpp_versions": ["ocpp1.6", "ocpp2.0.1"]}
            assert (await api.post("/backends", json=body)).status_code == 201
    found = Pair(routed, primary, shadow)
    found.nc = await nats.connect(routed.nats_url)
    yield found
    await found.nc.close()
    await primary.stop()
    await shadow.stop()


def _received(peer: CsmsPeer, charger_id: str, action: str) -> list[dict[str, Any]]:
    return [p for a, p in peer.history.get(charger_id, []) if a == action]


def _commands(charger: Any, action: str) -> list[dict[str, Any]]:
    return [p for a, p in charger.commands if a == action]


def _profile16(profile_id: int, limit: float = 16.0) -> dict[str, Any]:
    return {
        "chargingProfileId": profile_id,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
        },
    }


def _profile201(profile_id: int) -> dict[str, Any]:
    return {
        "id": profile_id,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [
            {
                "id": 1,
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
            }
        ],
    }


async def test_colliding_ids_from_two_backends_1_6(pair: Pair, charger_id: str) -> None:
    await pair.route(charger_id, COMMANDS_16)
    url = pair.suite.charger_url(charger_id)
    async with connect_charger(url, charger_id, "ocpp1.6") as (charger, _):
        await charger.call(c16.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        primary, shadow = await pair.sessions(charger_id)

        def reserve(tag: str) -> c16.ReserveNow:
            return c16.ReserveNow(
                connector_id=1, expiry_date=_now(600), id_tag=tag, reservation_id=1
            )

        answers = await asyncio.gather(primary.call(reserve("A")), shadow.call(reserve("B")))
        assert [a.status for a in answers] == ["Accepted", "Accepted"]
        at_charger = {p["id_tag"]: p["reservation_id"] for p in _commands(charger, "ReserveNow")}
        assert len(set(at_charger.values())) == 2 and 1 in at_charger.values()

        # The charger uses the shadow's reservation, then the primary's.
        for tag in ("B", "A"):
            await charger.call(
                c16.StartTransaction(
                    connector_id=1,
                    id_tag=tag,
                    meter_start=0,
                    timestamp=_now(),
                    reservation_id=at_charger[tag],
                )
            )
        starts = _received(pair.primary, charger_id, "StartTransaction")
        assert [s.get("reservation_id") for s in starts] == [None, 1]  # only its own, as its own
        await eventually(lambda: len(_received(pair.shadow, charger_id, "StartTransaction")) == 2)
        copies = _received(pair.shadow, charger_id, "StartTransaction")
        assert [s.get("reservation_id") for s in copies] == [1, None]

        cancelled = await shadow.call(c16.CancelReservation(reservation_id=1))
        assert cancelled.status == "Accepted"
        assert _commands(charger, "CancelReservation") == [{"reservation_id": at_charger["B"]}]

        # Charging profiles: both install profile 1 (the primary's limits 16 A, the shadow's
        # 10 A); whichever arrives first keeps id 1 at the charger; each clears its own.
        await asyncio.gather(
            primary.call(
                c16.SetChargingProfile(connector_id=1, cs_charging_profiles=_profile16(1, 16.0))
            ),
            shadow.call(
                c16.SetChargingProfile(connector_id=1, cs_charging_profiles=_profile16(1, 10.0))
            ),
        )
        installed = {
            p["cs_charging_profiles"]["charging_schedule"]["charging_schedule_period"][0][
                "limit"
            ]: p["cs_charging_profiles"]["charging_profile_id"]
            for p in _commands(charger, "SetChargingProfile")
        }
        assert len(set(installed.values())) == 2 and 1 in installed.values()
        await shadow.call(c16.ClearChargingProfile(id=1))
        await primary.call(c16.ClearChargingProfile(id=1))
        cleared = [p["id"] for p in _commands(charger, "ClearChargingProfile")]
        assert cleared == [installed[10.0], installed[16.0]]

        # Logs (security whitepaper GetLog): each log report goes to the backend that asked.
        log = {"remoteLocation": "ftp://logs.example.com/"}
        await primary.call(c16.GetLog(log=log, log_type="DiagnosticsLog", request_id=1))
        await shadow.call(c16.GetLog(log=log, log_type="DiagnosticsLog", request_id=1))
        primary_req, shadow_req = (p["request_id"] for p in _commands(charger, "GetLog"))
        assert primary_req == 1 and shadow_req != 1
        await charger.call(c16.LogStatusNotification(status="Uploading", request_id=shadow_req))
        await charger.call(c16.LogStatusNotification(status="Uploaded", request_id=primary_req))
        await eventually(
            lambda: len(_received(pair.shadow, charger_id, "LogStatusNotification")) > 0
        )
        await asyncio.sleep(0.3)  # a wrongly copied report would have arrived by now
    assert _received(pair.shadow, charger_id, "LogStatusNotification") == [
        {"status": "Uploading", "request_id": 1}
    ]
    assert _received(pair.primary, charger_id, "LogStatusNotification") == [
        {"status": "Uploaded", "request_id": 1}
    ]


async def test_colliding_ids_from_two_backends_2_0_1(pair: Pair, charger_id: str) -> None:
    await pair.route(charger_id, COMMANDS_201)
    url = pair.suite.charger_url(charger_id)
    async with connect_charger(url, charger_id, "ocpp2.0.1") as (charger, _):
        await charger.call(
            c201.BootNotification(
                charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
            )
        )
        primary, shadow = await pair.sessions(charger_id)

        def start(token: str) -> c201.RequestStartTransaction:
            return c201.RequestStartTransaction(
                id_token={"idToken": token, "type": "Central"}, remote_start_id=1
            )

        await asyncio.gather(primary.call(start("A")), shadow.call(start("B")))
        remote = {
            p["id_token"]["id_token"]: p["remote_start_id"]
            for p in _commands(charger, "RequestStartTransaction")
        }
        assert len(set(remote.values())) == 2 and 1 in remote.values()
        for seq, token in enumerate(("B", "A")):
            await charger.call(
                c201.TransactionEvent(
                    event_type="Started",
                    timestamp=_now(),
                    trigger_reason="RemoteStart",
                    seq_no=seq,
                    transaction_info={
                        "transactionId": f"T{token}-{charger_id}",
                        "remoteStartId": remote[token],
                    },
                )
            )
        events = _received(pair.primary, charger_id, "TransactionEvent")
        assert [e["transaction_info"].get("remote_start_id") for e in events] == [None, 1]
        await eventually(lambda: len(_received(pair.shadow, charger_id, "TransactionEvent")) == 2)
        copies = _received(pair.shadow, charger_id, "TransactionEvent")
        assert [e["transaction_info"].get("remote_start_id") for e in copies] == [1, None]

        # Charging profiles: both install profile 1, the charger holds two.
        await asyncio.gather(
            primary.call(c201.SetChargingProfile(evse_id=0, charging_profile=_profile201(1))),
            shadow.call(c201.SetChargingProfile(evse_id=0, charging_profile=_profile201(1))),
        )
        installed = {p["charging_profile"]["id"] for p in _commands(charger, "SetChargingProfile")}
        assert len(installed) == 2 and 1 in installed

        # Reservations: the expiry of the shadow's reaches the shadow alone, as its id 1.
        expires = _now(600)
        for session in (primary, shadow):
            await session.call(
                c201.ReserveNow(
                    id=1, expiry_date_time=expires, id_token={"idToken": "R", "type": "Central"}
                )
            )
        shadow_reservation = _commands(charger, "ReserveNow")[1]["id"]
        assert shadow_reservation != 1
        await charger.call(
            c201.ReservationStatusUpdate(
                reservation_id=shadow_reservation, reservation_update_status="Expired"
            )
        )

        # Device model reports: each NotifyReport goes to the backend that asked, with its id.
        for session in (primary, shadow):
            await session.call(c201.GetBaseReport(request_id=1, report_base="FullInventory"))
        primary_req, shadow_req = (p["request_id"] for p in _commands(charger, "GetBaseReport"))
        assert primary_req == 1 and shadow_req != 1
        for request_id in (shadow_req, primary_req):
            await charger.call(
                c201.NotifyReport(request_id=request_id, generated_at=_now(), seq_no=0, tbc=False)
            )
        await eventually(lambda: len(_received(pair.shadow, charger_id, "NotifyReport")) > 0)
        await asyncio.sleep(0.3)  # a wrongly copied report would have arrived by now
    assert [r["request_id"] for r in _received(pair.shadow, charger_id, "NotifyReport")] == [1]
    assert [r["request_id"] for r in _received(pair.primary, charger_id, "NotifyReport")] == [1]
    assert _received(pair.shadow, charger_id, "ReservationStatusUpdate") == [
        {"reservation_id": 1, "reservation_update_status": "Expired"}
    ]
    assert _received(pair.primary, charger_id, "ReservationStatusUpdate") == []


async def test_commands_from_two_backends_reach_the_charger_one_at_a_time(
    pair: Pair, charger_id: str
) -> None:
    """Invariant 2 toward the charger: a charger that would take CALLs concurrently (it reads
    while it works on one) still never has two gateway CALLs outstanding."""
    await pair.route(charger_id, COMMANDS_16)
    outstanding: set[str] = set()
    most = 0
    received: list[str] = []

    async def answer(ws: Any, message_id: str) -> None:
        await asyncio.sleep(0.2)  # the charger takes its time
        outstanding.discard(message_id)
        await ws.send(json.dumps([3, message_id, {"status": "Accepted"}]))

    url = pair.suite.charger_url(charger_id)
    async with connect(url, subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        working: set[asyncio.Task[None]] = set()

        async def serve() -> None:
            nonlocal most
            async for frame in ws:
                message = json.loads(frame)
                if message[0] == 2:
                    received.append(message[1])
                    outstanding.add(message[1])
                    most = max(most, len(outstanding))
                    task = asyncio.create_task(answer(ws, message[1]))
                    working.add(task)
                    task.add_done_callback(working.discard)

        reader = asyncio.create_task(serve())
        try:
            primary, shadow = await pair.sessions(charger_id)

            async def three(session: Any) -> list[str]:
                change = c16.ChangeAvailability(connector_id=0, type="Operative")
                return [(await session.call(change)).status for _ in range(3)]

            started = time.monotonic()
            results = await asyncio.gather(three(primary), three(shadow))
            took = time.monotonic() - started
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
    assert results == [["Accepted"] * 3, ["Accepted"] * 3]  # each backend got its own answers
    assert len(received) == len(set(received)) == 6  # gateway message ids, never reused
    assert most == 1, f"{most} gateway CALLs outstanding at the charger at once"
    assert took >= 6 * 0.2


def _restart_connectors(suite: RunningSuite) -> None:
    old = suite.services["connectors"]
    old.proc.send_signal(signal.SIGTERM)
    old.proc.wait(30)
    new = suite.suite.start_service("connectors", old.http_port)
    suite.suite.wait_ready(new)
    suite.services["connectors"] = new


async def test_the_id_map_survives_a_connectors_restart(pair: Pair, charger_id: str) -> None:
    await pair.route(charger_id, COMMANDS_16)
    url = pair.suite.charger_url(charger_id)
    async with connect_charger(url, charger_id, "ocpp1.6") as (charger, conn):
        await charger.call(c16.Heartbeat())
        primary, shadow = await pair.sessions(charger_id)
        for session in (primary, shadow):
            await session.call(
                c16.ReserveNow(connector_id=1, expiry_date=_now(600), id_tag="T", reservation_id=5)
            )
        mine, theirs = (p["reservation_id"] for p in _commands(charger, "ReserveNow"))
        assert mine == 5 and theirs != 5

        await asyncio.to_thread(_restart_connectors, pair.suite)
        primary, shadow = await pair.sessions(charger_id, connects=2)  # upstreams redialled

        # The charger never noticed; the new process knows whose reservation `theirs` is.
        await charger.call(
            c16.StartTransaction(
                connector_id=1, id_tag="T", meter_start=0, timestamp=_now(), reservation_id=theirs
            )
        )
        await shadow.call(c16.CancelReservation(reservation_id=5))
        assert conn.ws.close_code is None
        await eventually(lambda: len(_received(pair.shadow, charger_id, "StartTransaction")) == 1)
    assert _received(pair.shadow, charger_id, "StartTransaction")[0]["reservation_id"] == 5
    assert "reservation_id" not in _received(pair.primary, charger_id, "StartTransaction")[0]
    assert _commands(charger, "CancelReservation") == [{"reservation_id": theirs}]
