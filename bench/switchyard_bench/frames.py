"""OCPP-J frames of a simulated charger, and the profile that picks its next CALL. Sans-I/O.

One code path builds every frame the load generator sends, for both versions: `Profile.next()`
returns the next CALL text and `Profile.answered()` takes the answer (a StartTransaction's
transactionId is the only thing a 1.6 charger must remember). The profile is driven by a seeded
`random.Random`, so the same seed gives the same sequence of CALLs on every run and every path.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

V16 = "ocpp1.6"
V201 = "ocpp2.0.1"

STATUSES_16 = ("Available", "Preparing", "SuspendedEV", "Finishing", "Unavailable")
STATUSES_201 = ("Available", "Occupied", "Reserved", "Unavailable")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def call(message_id: str, action: str, payload: dict[str, object]) -> str:
    return json.dumps([2, message_id, action, payload], separators=(",", ":"))


def answer(message_id: str) -> str:
    """What a simulated charger answers to any backend CALL (an empty CALLRESULT)."""
    return json.dumps([3, message_id, {}], separators=(",", ":"))


@dataclass
class Profile:
    """One charger's behaviour: boot, status, then heartbeats, status changes and transactions
    with periodic meter values, chosen at random with fixed odds."""

    version: str
    rng: random.Random
    serial: str
    _seq: int = 0
    _plan: list[str] = field(default_factory=list)
    _tx: int | str | None = None
    _meter_wh: int = 0
    _tx_seq: int = 0
    _tag: str = ""

    def message_id(self) -> str:
        self._seq += 1
        return str(self._seq)

    # -- what comes next ------------------------------------------------------------------------

    def boot_frames(self) -> list[tuple[str, str]]:
        """(action, frame) of a (re)boot: BootNotification, then the connector's status."""
        self._plan.clear()
        self._tx = None
        return [self._frame("BootNotification"), self._frame("StatusAvailable")]

    def next(self) -> tuple[str, str]:
        if not self._plan:
            self._plan = self._choose()
        return self._frame(self._plan.pop(0))

    def answered(self, action: str, text: str) -> None:
        if action == "StartTransaction":
            body = json.loads(text)
            if body[0] == 3:
                self._tx = body[2].get("transactionId")

    def _choose(self) -> list[str]:
        roll = self.rng.random()
        if roll < 0.55:
            return ["Heartbeat"]
        if roll < 0.75:
            return ["Status"]
        meters = ["MeterValues"] * self.rng.randint(2, 8)
        self._tag = f"TAG-{self.rng.randrange(10**8):08d}"
        if self.version == V16:
            return ["Authorize", "StatusPreparing", "StartTransaction", *meters, "StopTransaction",
                    "StatusAvailable"]  # fmt: skip
        return ["Authorize", "TransactionStarted", *meters, "TransactionEnded", "StatusAvailable"]

    # -- frames ---------------------------------------------------------------------------------

    def _frame(self, step: str) -> tuple[str, str]:
        build = self._v16 if self.version == V16 else self._v201
        action, payload = build(step)
        return action, call(self.message_id(), action, payload)

    def _v16(self, step: str) -> tuple[str, dict[str, object]]:
        if step == "BootNotification":
            return step, {
                "chargePointVendor": "Switchyard",
                "chargePointModel": "Bench-AC22",
                "chargePointSerialNumber": self.serial,
                "firmwareVersion": "1.4.2",
            }
        if step == "Heartbeat":
            return step, {}
        if step.startswith("Status"):
            status = {"StatusAvailable": "Available", "StatusPreparing": "Preparing"}.get(
                step, self.rng.choice(STATUSES_16)
            )
            return "StatusNotification", {
                "connectorId": 1,
                "errorCode": "NoError",
                "status": status,
                "timestamp": now(),
            }
        if step == "Authorize":
            return step, {"idTag": self._tag}
        if step == "StartTransaction":
            self._meter_wh += self.rng.randint(0, 50)
            return step, {
                "connectorId": 1,
                "idTag": self._tag,
                "meterStart": self._meter_wh,
                "timestamp": now(),
            }
        if step == "MeterValues":
            self._meter_wh += self.rng.randint(100, 2000)
            payload: dict[str, object] = {"connectorId": 1, "meterValue": [self._sample_16()]}
            if isinstance(self._tx, int):
                payload["transactionId"] = self._tx
            return step, payload
        if step == "StopTransaction":
            payload = {"meterStop": self._meter_wh, "timestamp": now(), "reason": "Local"}
            payload["transactionId"] = self._tx if isinstance(self._tx, int) else 0
            payload["idTag"] = self._tag
            return step, payload
        raise ValueError(step)

    def _sample_16(self) -> dict[str, object]:
        return {
            "timestamp": now(),
            "sampledValue": [
                {
                    "value": str(self._meter_wh),
                    "measurand": "Energy.Active.Import.Register",
                    "unit": "Wh",
                },
                {
                    "value": f"{self.rng.uniform(3.0, 22.0):.2f}",
                    "measurand": "Power.Active.Import",
                    "unit": "kW",
                },
            ],
        }

    def _v201(self, step: str) -> tuple[str, dict[str, object]]:
        if step == "BootNotification":
            return step, {
                "chargingStation": {
                    "model": "Bench-DC150",
                    "vendorName": "Switchyard",
                    "serialNumber": self.serial,
                    "firmwareVersion": "2.0.7",
                },
                "reason": "PowerUp",
            }
        if step == "Heartbeat":
            return step, {}
        if step.startswith("Status"):
            status = "Available" if step == "StatusAvailable" else self.rng.choice(STATUSES_201)
            return "StatusNotification", {
                "timestamp": now(),
                "connectorStatus": status,
                "evseId": 1,
                "connectorId": 1,
            }
        token = {"idToken": self._tag, "type": "ISO14443"}
        if step == "Authorize":
            return step, {"idToken": token}
        if step == "TransactionStarted":
            self._tx = f"{self.serial}-{self.rng.randrange(10**9):09d}"
            self._tx_seq = 0
            return "TransactionEvent", {
                "eventType": "Started",
                "timestamp": now(),
                "triggerReason": "Authorized",
                "seqNo": 0,
                "transactionInfo": {"transactionId": self._tx},
                "idToken": token,
                "evse": {"id": 1, "connectorId": 1},
            }
        tx_id = self._tx if isinstance(self._tx, str) else f"{self.serial}-orphan"
        self._tx_seq += 1
        if step == "MeterValues":
            self._meter_wh += self.rng.randint(100, 2000)
            return "TransactionEvent", {
                "eventType": "Updated",
                "timestamp": now(),
                "triggerReason": "MeterValuePeriodic",
                "seqNo": self._tx_seq,
                "transactionInfo": {"transactionId": tx_id, "chargingState": "Charging"},
                "meterValue": [
                    {
                        "timestamp": now(),
                        "sampledValue": [
                            {
                                "value": float(self._meter_wh),
                                "measurand": "Energy.Active.Import.Register",
                            },
                            {
                                "value": round(self.rng.uniform(3000.0, 150000.0), 1),
                                "measurand": "Power.Active.Import",
                            },
                        ],
                    }
                ],
            }
        if step == "TransactionEnded":
            return "TransactionEvent", {
                "eventType": "Ended",
                "timestamp": now(),
                "triggerReason": "StopAuthorized",
                "seqNo": self._tx_seq,
                "transactionInfo": {"transactionId": tx_id, "stoppedReason": "Local"},
            }
        raise ValueError(step)
