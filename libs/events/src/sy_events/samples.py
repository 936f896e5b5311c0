"""Real-looking captured traffic of one charger through the gateway, for tests and examples.

`Traffic.exchange` writes the four hops of a charger CALL (charger -> gateway -> each backend ->
gateway -> charger), with the connectors' message-id rewriting on the backend side, so the tests
do not rely on ids being equal across sides.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import orjson

from sy_bus import FrameDirection, FrameRecord
from sy_events import EventBase, Normaliser

T0 = 1_700_000_000_000_000_000
MS = 1_000_000

Answer = dict[str, Any] | tuple[str, str]  # payload, or (error code, description)


@dataclass
class Traffic:
    charger_id: str
    ocpp: str = "ocpp1.6"
    connection_id: str = "conn-1"
    now: int = T0
    frames: list[tuple[int, FrameRecord]] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _put(self, direction: FrameDirection, message: list[Any], backend: str | None) -> None:
        self.now += MS
        self.frames.append(
            (
                next(self._seq),
                FrameRecord(
                    charger_id=self.charger_id,
                    direction=direction,
                    ts_ns=self.now,
                    ocpp=self.ocpp,
                    raw=orjson.dumps(message).decode(),
                    message_type=message[0],
                    message_id=message[1],
                    action=message[2] if message[0] == 2 else None,
                    backend=backend,
                    instance="edge-0",
                    connection_id=self.connection_id,
                ),
            )
        )

    @staticmethod
    def _answer(mid: str, answer: Answer) -> list[Any]:
        if isinstance(answer, tuple):
            return [4, mid, answer[0], answer[1], {}]
        return [3, mid, answer]

    def exchange(
        self,
        action: str,
        payload: dict[str, Any],
        answers: dict[str, Answer | None],
        *,
        to_charger: str | None = None,
    ) -> None:
        """A charger CALL. `answers`: backend -> its answer (None: it never answered). The
        charger gets the answer of `to_charger` (default: the first backend), or nothing."""
        mid = f"c{next(self._ids)}"
        self._put(FrameDirection.FROM_CHARGER, [2, mid, action, payload], None)
        upstream = {b: f"{b}-{next(self._ids)}" for b in answers}  # ids rewritten per backend
        for backend, bid in upstream.items():
            self._put(FrameDirection.TO_BACKEND, [2, bid, action, payload], backend)
        primary = to_charger or next(iter(answers), None)
        for backend, answer in answers.items():
            if answer is not None:
                reply = self._answer(upstream[backend], answer)
                self._put(FrameDirection.FROM_BACKEND, reply, backend)
        chosen = answers.get(primary) if primary is not None else None
        if chosen is not None:
            self._put(FrameDirection.TO_CHARGER, self._answer(mid, chosen), None)

    def command(self, backend: str, action: str, payload: dict[str, Any], answer: Answer) -> None:
        """A backend CALL delivered to the charger and answered."""
        bid, cid = f"{backend}-{next(self._ids)}", f"d{next(self._ids)}"
        self._put(FrameDirection.FROM_BACKEND, [2, bid, action, payload], backend)
        self._put(FrameDirection.TO_CHARGER, [2, cid, action, payload], None)
        self._put(FrameDirection.FROM_CHARGER, self._answer(cid, answer), None)
        self._put(FrameDirection.TO_BACKEND, self._answer(bid, answer), backend)

    def events(self, normaliser: Normaliser | None = None) -> list[EventBase]:
        n = normaliser or Normaliser()
        out: list[EventBase] = []
        for seq, record in self.frames:
            out += n.feed(seq, record)
        return out


def session_16(t: Traffic, *, new_answers_start: bool = True) -> None:
    """A whole 1.6 session, primary 'legacy', shadow 'new' (which may ignore the start)."""

    def both(answer: Answer) -> dict[str, Answer | None]:
        return {"legacy": answer, "new": answer}

    t.exchange(
        "BootNotification",
        {
            "chargePointVendor": "Alfen",
            "chargePointModel": "NG910",
            "firmwareVersion": "6.1.0",
            "chargeBoxSerialNumber": "ACE0001",
        },
        both({"status": "Accepted", "currentTime": "2023-11-14T22:13:20Z", "interval": 60}),
    )
    t.exchange(
        "StatusNotification",
        {"connectorId": 1, "status": "Preparing", "errorCode": "NoError"},
        both({}),
    )
    t.exchange("Authorize", {"idTag": "TAG-1"}, both({"idTagInfo": {"status": "Accepted"}}))
    start = {
        "connectorId": 1,
        "idTag": "TAG-1",
        "meterStart": 1000,
        "timestamp": "2023-11-14T22:14:00Z",
    }
    ok: Answer = {"transactionId": 1001, "idTagInfo": {"status": "Accepted"}}
    shadow: Answer = {"transactionId": 55, "idTagInfo": {"status": "Accepted"}}
    t.exchange(
        "StartTransaction", start, {"legacy": ok, "new": shadow if new_answers_start else None}
    )
    t.exchange(
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": 1001,
            "meterValue": [
                {
                    "timestamp": "2023-11-14T22:20:00Z",
                    "sampledValue": [
                        # quirk: the register in kWh, as a string with the unit spelled oddly
                        {"value": "2.5", "unit": "KWH", "context": "Sample.Periodic"},
                        # no unit, no measurand: Wh and the energy register by default
                        {"value": "2500", "phase": "L1", "context": "Sample.Periodic"},
                        {"value": "7.2", "unit": "kW", "measurand": "Power.Active.Import"},
                        {
                            "value": "16.1",
                            "unit": "A",
                            "measurand": "Current.Import",
                            "phase": "L2",
                        },
                    ],
                }
            ],
        },
        both({}),
    )
    t.exchange(
        "StopTransaction",
        {
            "transactionId": 1001,
            "meterStop": 4500,
            "timestamp": "2023-11-14T22:44:00Z",
            "reason": "EVDisconnected",
            "idTag": "TAG-1",
        },
        both({"idTagInfo": {"status": "Accepted"}}),
    )


def session_201(t: Traffic) -> None:
    """The same charging session from a 2.0.1 charger."""

    def both(answer: Answer) -> dict[str, Answer | None]:
        return {"legacy": answer, "new": answer}

    t.exchange(
        "BootNotification",
        {
            "reason": "PowerUp",
            "chargingStation": {
                "vendorName": "Alfen",
                "model": "NG910",
                "firmwareVersion": "6.1.0",
                "serialNumber": "ACE0001",
            },
        },
        both({"status": "Accepted", "currentTime": "2023-11-14T22:13:20Z", "interval": 60}),
    )
    t.exchange(
        "StatusNotification",
        {
            "timestamp": "2023-11-14T22:13:30Z",
            "connectorStatus": "Occupied",
            "evseId": 1,
            "connectorId": 1,
        },
        both({}),
    )
    t.exchange(
        "Authorize",
        {"idToken": {"idToken": "TAG-1", "type": "ISO14443"}},
        both({"idTokenInfo": {"status": "Accepted"}}),
    )
    tx = {"transactionId": "f3a1-7c"}

    def event(kind: str, seq: int, ts: str, trigger: str, **more: Any) -> dict[str, Any]:
        return {
            "eventType": kind,
            "timestamp": ts,
            "triggerReason": trigger,
            "seqNo": seq,
            "evse": {"id": 1, "connectorId": 1},
            **more,
        }

    t.exchange(
        "TransactionEvent",
        event(
            "Started",
            0,
            "2023-11-14T22:14:00Z",
            "Authorized",
            transactionInfo={**tx, "chargingState": "EVConnected"},
            idToken={"idToken": "TAG-1", "type": "ISO14443"},
            meterValue=[
                {
                    "timestamp": "2023-11-14T22:14:00Z",
                    "sampledValue": [
                        # 1 kWh as 1 x 10^3 Wh via the multiplier
                        {
                            "value": 1,
                            "context": "Transaction.Begin",
                            "unitOfMeasure": {"unit": "Wh", "multiplier": 3},
                        }
                    ],
                }
            ],
        ),
        both({"idTokenInfo": {"status": "Accepted"}}),
    )
    t.exchange(
        "TransactionEvent",
        event(
            "Updated",
            1,
            "2023-11-14T22:20:00Z",
            "MeterValuePeriodic",
            transactionInfo={**tx, "chargingState": "Charging"},
            meterValue=[
                {
                    "timestamp": "2023-11-14T22:20:00Z",
                    "sampledValue": [
                        {"value": 2.5, "unitOfMeasure": {"unit": "kWh"}},
                        {"value": 7200, "measurand": "Power.Active.Import"},
                    ],
                }
            ],
        ),
        both({}),
    )
    t.exchange(
        "TransactionEvent",
        event(
            "Ended",
            2,
            "2023-11-14T22:44:00Z",
            "EVCommunicationLost",
            transactionInfo={**tx, "chargingState": "Idle", "stoppedReason": "EVDisconnected"},
            meterValue=[
                {
                    "timestamp": "2023-11-14T22:44:00Z",
                    "sampledValue": [{"value": 4500, "context": "Transaction.End"}],
                }
            ],
        ),
        both({}),
    )
