"""Chargers (OCPP 1.6 and 2.0.1) built with the `ocpp` library, answering CSMS commands."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v16.enums import RemoteStartStopStatus
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from ocpp.v201.enums import RequestStartStopStatusEnumType
from websockets.asyncio.client import connect

from sy_devkit.peers.recording import RecordingConnection

ACCEPTED = "Accepted"
quiet = logging.getLogger("sy_devkit.peers.charger")
quiet.setLevel(logging.WARNING)


class Charger16(ChargePoint16):  # type: ignore[misc]
    commands: list[tuple[str, dict[str, Any]]]

    @on(Action16.remote_start_transaction)
    def on_remote_start(self, id_tag: str, **kwargs: Any) -> result16.RemoteStartTransaction:
        self.commands.append(("RemoteStartTransaction", {"id_tag": id_tag, **kwargs}))
        return result16.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)

    @on(Action16.remote_stop_transaction)
    def on_remote_stop(self, transaction_id: int) -> result16.RemoteStopTransaction:
        self.commands.append(("RemoteStopTransaction", {"transaction_id": transaction_id}))
        return result16.RemoteStopTransaction(status=RemoteStartStopStatus.accepted)

    # Reservations, charging profiles and logs: recorded and accepted.
    @on(Action16.reserve_now)
    def on_reserve_now(self, **kwargs: Any) -> result16.ReserveNow:
        self.commands.append(("ReserveNow", kwargs))
        return result16.ReserveNow(status=ACCEPTED)

    @on(Action16.cancel_reservation)
    def on_cancel_reservation(self, **kwargs: Any) -> result16.CancelReservation:
        self.commands.append(("CancelReservation", kwargs))
        return result16.CancelReservation(status=ACCEPTED)

    @on(Action16.set_charging_profile)
    def on_set_charging_profile(self, **kwargs: Any) -> result16.SetChargingProfile:
        self.commands.append(("SetChargingProfile", kwargs))
        return result16.SetChargingProfile(status=ACCEPTED)

    @on(Action16.clear_charging_profile)
    def on_clear_charging_profile(self, **kwargs: Any) -> result16.ClearChargingProfile:
        self.commands.append(("ClearChargingProfile", kwargs))
        return result16.ClearChargingProfile(status=ACCEPTED)

    @on(Action16.get_log)
    def on_get_log(self, **kwargs: Any) -> result16.GetLog:
        self.commands.append(("GetLog", kwargs))
        return result16.GetLog(status=ACCEPTED, filename="charger.log")


class Charger201(ChargePoint201):  # type: ignore[misc]
    commands: list[tuple[str, dict[str, Any]]]

    @on(Action201.request_start_transaction)
    def on_request_start(
        self, id_token: dict[str, Any], remote_start_id: int, **kwargs: Any
    ) -> result201.RequestStartTransaction:
        self.commands.append(
            ("RequestStartTransaction", {"id_token": id_token, "remote_start_id": remote_start_id})
        )
        return result201.RequestStartTransaction(status=RequestStartStopStatusEnumType.accepted)

    # Reservations, charging profiles and reports: recorded and accepted.
    @on(Action201.reserve_now)
    def on_reserve_now(self, **kwargs: Any) -> result201.ReserveNow:
        self.commands.append(("ReserveNow", kwargs))
        return result201.ReserveNow(status=ACCEPTED)

    @on(Action201.cancel_reservation)
    def on_cancel_reservation(self, **kwargs: Any) -> result201.CancelReservation:
        self.commands.append(("CancelReservation", kwargs))
        return result201.CancelReservation(status=ACCEPTED)

    @on(Action201.set_charging_profile)
    def on_set_charging_profile(self, **kwargs: Any) -> result201.SetChargingProfile:
        self.commands.append(("SetChargingProfile", kwargs))
        return result201.SetChargingProfile(status=ACCEPTED)

    @on(Action201.clear_charging_profile)
    def on_clear_charging_profile(self, **kwargs: Any) -> result201.ClearChargingProfile:
        self.commands.append(("ClearChargingProfile", kwargs))
        return result201.ClearChargingProfile(status=ACCEPTED)

    @on(Action201.get_base_report)
    def on_get_base_report(self, **kwargs: Any) -> result201.GetBaseReport:
        self.commands.append(("GetBaseReport", kwargs))
        return result201.GetBaseReport(status=ACCEPTED)


@asynccontextmanager
async def connect_charger(
    url: str, charger_id: str, version: str
) -> AsyncIterator[tuple[Charger16 | Charger201, RecordingConnection]]:
    """Connect a charger to `url` (which ends with the charger id) and run its message loop."""
    async with connect(url, subprotocols=[version], open_timeout=10) as ws:  # type: ignore[list-item]
        conn = RecordingConnection(ws)
        cls = Charger16 if version == "ocpp1.6" else Charger201
        charger = cls(charger_id, conn, response_timeout=30, logger=quiet)
        charger.commands = []
        loop = asyncio.create_task(charger.start())
        try:
            yield charger, conn
        finally:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
