"""A short, realistic charging session for a simulated charger: boot, heartbeat, authorize,
status, start, meter values, stop. Used by the walk-through and by load generation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ocpp.v16 import call as c16
from ocpp.v201 import call as c201

from sy_devkit.peers.charger import Charger16, Charger201

Report = Callable[[str, Any], None]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def session_16(charger: Charger16, report: Report, meter_values: int = 3) -> None:
    report(
        "BootNotification",
        await charger.call(
            c16.BootNotification(charge_point_model="Sim-AC22", charge_point_vendor="Switchyard")
        ),
    )
    report("Heartbeat", await charger.call(c16.Heartbeat()))
    report("Authorize", await charger.call(c16.Authorize(id_tag="SIM-TAG")))
    report(
        "StatusNotification",
        await charger.call(
            c16.StatusNotification(connector_id=1, error_code="NoError", status="Preparing")
        ),
    )
    start = await charger.call(
        c16.StartTransaction(connector_id=1, id_tag="SIM-TAG", meter_start=0, timestamp=_now())
    )
    report("StartTransaction", start)
    for i in range(1, meter_values + 1):
        sample = {
            "value": str(i * 1000),
            "measurand": "Energy.Active.Import.Register",
            "unit": "Wh",
        }
        report(
            "MeterValues",
            await charger.call(
                c16.MeterValues(
                    connector_id=1,
                    transaction_id=start.transaction_id,
                    meter_value=[{"timestamp": _now(), "sampledValue": [sample]}],
                )
            ),
        )
    report(
        "StopTransaction",
        await charger.call(
            c16.StopTransaction(
                meter_stop=meter_values * 1000,
                timestamp=_now(),
                transaction_id=start.transaction_id,
            )
        ),
    )


async def session_201(charger: Charger201, report: Report, meter_values: int = 3) -> None:
    report(
        "BootNotification",
        await charger.call(
            c201.BootNotification(
                charging_station={"model": "Sim-DC150", "vendor_name": "Switchyard"},
                reason="PowerUp",
            )
        ),
    )
    report("Heartbeat", await charger.call(c201.Heartbeat()))
    token = {"idToken": "SIM-TAG", "type": "ISO14443"}
    report("Authorize", await charger.call(c201.Authorize(id_token=token)))
    report(
        "StatusNotification",
        await charger.call(
            c201.StatusNotification(
                timestamp=_now(), connector_status="Occupied", evse_id=1, connector_id=1
            )
        ),
    )
    tx = {"transactionId": f"sim-{datetime.now(UTC):%H%M%S%f}"}
    report(
        "TransactionEvent",
        await charger.call(
            c201.TransactionEvent(
                event_type="Started",
                timestamp=_now(),
                trigger_reason="Authorized",
                seq_no=0,
                transaction_info=tx,
                id_token=token,
                evse={"id": 1, "connectorId": 1},
            )
        ),
    )
    for i in range(1, meter_values + 1):
        sample = {"value": float(i * 1000), "measurand": "Energy.Active.Import.Register"}
        report(
            "TransactionEvent",
            await charger.call(
                c201.TransactionEvent(
                    event_type="Updated",
                    timestamp=_now(),
                    trigger_reason="MeterValuePeriodic",
                    seq_no=i,
                    transaction_info=tx,
                    meter_value=[{"timestamp": _now(), "sampledValue": [sample]}],
                )
            ),
        )
    report(
        "TransactionEvent",
        await charger.call(
            c201.TransactionEvent(
                event_type="Ended",
                timestamp=_now(),
                trigger_reason="StopAuthorized",
                seq_no=meter_values + 1,
                transaction_info={**tx, "stoppedReason": "Local"},
            )
        ),
    )
