"""The bytes of the events derived from a fixed frame sequence are pinned.

`data/events_golden.ndjson` was written before the journal's CPU work of 2026-11-21 (sessions
folded once per batch, assignments only on change; see `sy_events.sessions.fold`): the same
frames must give the same events with the same ids, byte for byte, as published on SY_EVENTS and
stored in journal.events, and the same folded sessions. The corpus covers every handler and the
odd inputs each one guards against; a change of these bytes is a change of the schema
(docs/events.md), never a side effect.

Regenerate (only for an intended change of the events, which is a schema matter, docs/events.md):

    uv run python libs/events/tests/test_event_bytes.py --write
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from sy_bus import FrameDirection, FrameRecord
from sy_events import EventBase, Normaliser, to_json
from sy_events.samples import MS, T0, Traffic, session_16, session_201
from sy_events.sessions import Session, apply, fold, transaction_of

GOLDEN = Path(__file__).parent / "data" / "events_golden.ndjson"
D = FrameDirection


def _odd_16(t: Traffic) -> None:
    both: dict[str, Any] = {"legacy": {}, "new": {}}
    t.exchange(
        "BootNotification",
        {"chargePointVendor": "Ünïcode ⚡", "chargePointModel": "M\u2028X", "iccid": "8931",
         "imsi": "2620", "chargePointSerialNumber": "S-1", "chargeBoxSerialNumber": "B-1"},
        {"legacy": {"status": "Accepted"}},
    )  # fmt: skip
    for payload in (
        {"connectorId": 0, "status": "Faulted", "errorCode": "GroundFailure", "info": "tripped",
         "vendorErrorCode": "E17", "timestamp": "2023-11-14T23:13:30+01:00"},
        {"connectorId": 2, "status": "SuspendedEVSE", "errorCode": "NoError",
         "timestamp": "2023-11-14T22:13:30"},  # no zone: no reported_at
        {"connectorId": 1, "status": "Weird", "errorCode": "", "timestamp": "garbage"},
        {"connectorId": True, "status": "Available"},  # a bool is no connector: no event
        {"status": "Available"},
        {"connectorId": 2**40, "status": "Finishing", "errorCode": "OtherError", "info": ""},
    ):  # fmt: skip
        t.exchange("StatusNotification", payload, both)
    t.exchange("Authorize", {"idTag": "TAG-ü"}, {"legacy": ("InternalError", "boom")})
    t.exchange("Authorize", {"idTag": ""}, {"legacy": {"idTagInfo": {"status": "Accepted"}}})
    t.exchange("Authorize", {"idTag": "T2"}, {"legacy": {}, "new": {}}, to_charger="new")
    t.exchange("Authorize", {"idTag": "T3"}, {"legacy": {"idTagInfo": {"status": "ConcurrentTx"}}})
    start = {"connectorId": 2, "idTag": "T2", "meterStart": "1234.5", "reservationId": 9}
    t.exchange(
        "StartTransaction",
        start,
        {"legacy": {"transactionId": 77, "idTagInfo": {"status": "Accepted"}},
         "new": ("InternalError", "")},
    )  # fmt: skip
    t.exchange(
        "StartTransaction",  # a retry with the same content: the same session, no second start
        start,
        {"legacy": {"transactionId": 77, "idTagInfo": {"status": "Accepted"}}, "new": None},
    )
    t.exchange(
        "StartTransaction",
        {"connectorId": 3, "meterStart": True, "timestamp": "2023-11-14T22:14:00.123456Z"},
        {"legacy": ("FormationViolation", "no idTag")},
    )
    samples: list[Any] = [
        {"value": "12,5", "unit": "kWh", "context": "Sample.Periodic", "location": "Outlet"},
        {"value": "abc"},
        {"value": "0xdead", "format": "SignedData"},
        {"value": "300.15", "unit": "K", "measurand": "Temperature"},
        {"value": "212", "unit": "Fahrenheit", "measurand": "Temperature", "phase": "L1"},
        {"value": "3", "unit": "kvarh", "measurand": "Energy.Reactive.Import.Register"},
        {"value": "5", "unit": "furlong", "measurand": "Distance"},
        {"value": "7", "measurand": 42},
        {"value": "0.95", "measurand": "Power.Factor"},
        {"value": "1e20", "measurand": "Power.Active.Import"},
        {"value": "nan", "measurand": "Power.Active.Import"},  # no number: no reading
        {"value": "-inf", "measurand": "Power.Active.Import"},  # (JSON would say null)
        {"value": "-0.0", "measurand": "Current.Import", "phase": "L3-N"},
        {"value": "0.1", "measurand": "Voltage", "unit": ""},
        {"value": 5, "unit": "Wh"},
        {"value": True},
        "not an object",
    ]
    t.exchange(
        "MeterValues",
        {"connectorId": 2, "transactionId": 77, "meterValue": [
            {"timestamp": "2023-11-14T22:20:00.5+00:00", "sampledValue": samples},
            {"timestamp": 7, "sampledValue": [{"value": "1"}]},
            {"sampledValue": "nope"},
            "junk",
        ]},
        both,
    )  # fmt: skip
    t.exchange("MeterValues", {"connectorId": 1, "meterValue": "none"}, both)  # no transaction
    t.exchange("MeterValues", {"connectorId": 1, "transactionId": 4242, "meterValue": []}, both)
    t.exchange(
        "StopTransaction",
        {"transactionId": 77, "meterStop": 98765.4321, "reason": "HardReset",
         "transactionData": [{"timestamp": "2023-11-14T22:44:00Z",
                              "sampledValue": [{"value": "98.7654321", "unit": "kWh"}]}]},
        {"legacy": {"idTagInfo": {"status": "Expired"}}, "new": ("GenericError", "")},
    )  # fmt: skip
    t.exchange("StopTransaction", {"transactionId": 77, "meterStop": "x"}, both)  # repeated
    t.exchange("StopTransaction", {"transactionId": "9x", "idTag": "T9"}, both)  # never started
    t.exchange("FirmwareStatusNotification", {"status": "DownloadFailed"}, both)
    t.exchange("FirmwareStatusNotification", {}, both)
    t.exchange("DiagnosticsStatusNotification", {"status": "UploadFailed"}, both)
    t.exchange("Heartbeat", {}, {"legacy": {"currentTime": "2023-11-14T22:13:20Z"}})
    t.exchange("DataTransfer", {"vendorId": "x"}, {"legacy": {"status": "Accepted"}})
    t.command("legacy", "RemoteStartTransaction", {"idTag": "R", "connectorId": 1},
              {"status": "Accepted"})  # fmt: skip
    t.command("new", "Reset", {"type": "Hard"}, {"status": "Rejected"})
    t.command("legacy", "GetConfiguration", {}, {"configurationKey": []})
    t.command("legacy", "UnlockConnector", {"connectorId": 1}, ("NotSupported", "no"))


def _odd_201(t: Traffic) -> None:
    both: dict[str, Any] = {"legacy": {}, "new": {}}
    t.exchange(
        "BootNotification",
        {"reason": "ScheduledReset", "chargingStation": {"vendorName": "V", "model": "M",
         "modem": {"iccid": "89", "imsi": "26"}}},
        both,
    )  # fmt: skip
    t.exchange("BootNotification", {"chargingStation": {"model": 7}}, both)
    for payload in (
        {"timestamp": "2023-11-14T22:13:30Z", "connectorStatus": "Unavailable", "evseId": 0,
         "connectorId": 0},
        {"timestamp": "2023-11-14T22:13:30Z", "connectorStatus": "Reserved", "evseId": 3},
        {"connectorStatus": "Occupied", "connectorId": 1},
    ):  # fmt: skip
        t.exchange("StatusNotification", payload, both)
    t.exchange(
        "Authorize",
        {"idToken": {"idToken": "E-MAID", "type": "eMAID"}},
        {"legacy": {"idTokenInfo": {"status": "NoCredit"}}},
    )
    t.exchange("Authorize", {"idToken": {"type": "ISO14443"}}, both)
    ev = {"timestamp": "2023-11-14T22:14:00Z", "evse": {"id": 2, "connectorId": 1}}
    tx = {"transactionId": "tx-⚡"}
    t.exchange(
        "TransactionEvent",
        {**ev, "eventType": "Started", "triggerReason": "CablePluggedIn", "seqNo": 0,
         "reservationId": 3, "transactionInfo": tx,
         "meterValue": [{"timestamp": "2023-11-14T22:14:00Z", "sampledValue": [
             {"value": 12.5, "unitOfMeasure": {"unit": "kWh", "multiplier": 0}},
             {"value": 1, "unitOfMeasure": {"unit": "W", "multiplier": True}},
             {"value": 2, "unitOfMeasure": {"multiplier": -1}, "measurand": "Current.Import"}]}]},
        {"legacy": {"idTokenInfo": {"status": "Accepted"}}, "new": ("InternalError", "")},
    )  # fmt: skip
    t.exchange(
        "TransactionEvent",
        {**ev, "eventType": "Updated", "triggerReason": "ChargingStateChanged", "seqNo": "1",
         "transactionInfo": {**tx, "chargingState": "SuspendedEVSE"},
         "idToken": {"idToken": "LATE", "type": "Central"}},
        both,
    )  # fmt: skip
    t.exchange(
        "TransactionEvent",
        {"eventType": "Updated", "transactionInfo": {**tx, "chargingState": ""}, "seqNo": 2},
        {"legacy": ("OccurenceConstraintViolation", "")},
    )
    t.exchange(
        "TransactionEvent",
        {**ev, "eventType": "Ended", "triggerReason": "EnergyLimitReached", "seqNo": 3,
         "transactionInfo": {**tx, "stoppedReason": "SOCLimitReached"},
         "meterValue": [{"timestamp": "2023-11-14T22:50:00Z", "sampledValue": [
             {"value": 20000, "context": "Sample.Periodic"}]}]},
        both,
    )  # fmt: skip
    t.exchange("TransactionEvent", {**ev, "eventType": "Ended", "transactionInfo": tx}, both)
    t.exchange("TransactionEvent", {**ev, "eventType": "Started", "transactionInfo": {}}, both)
    t.exchange(
        "TransactionEvent",
        {"eventType": "Started", "transactionInfo": {"transactionId": "t2"}, "evse": "x",
         "meterValue": [{"sampledValue": [{"value": 3}]}]},
        both,
    )  # fmt: skip
    t.exchange("LogStatusNotification", {"status": "Uploading", "requestId": 12}, both)
    t.exchange("FirmwareStatusNotification", {"status": "Installed", "requestId": True}, both)
    t.exchange(
        "SecurityEventNotification",
        {"type": "FirmwareUpdated", "timestamp": "2023-11-14T22:55:00Z", "techInfo": "v2"},
        both,
    )
    t.exchange("SecurityEventNotification", {"timestamp": "2023-11-14T22:55:00Z"}, both)
    t.command("new", "RequestStartTransaction", {"idToken": {"idToken": "R"}, "remoteStartId": 1},
              {"status": "Accepted", "transactionId": "tx-r"})  # fmt: skip


def _reordered(t: Traffic) -> None:
    """The backend hops of a CALL captured before the charger's CALL (clocks of edge and
    connectors differ): parked legs the CALL adopts, and their late acknowledgements."""
    start = {"connectorId": 1, "idTag": "X", "meterStart": 10, "timestamp": "2023-11-14T22:14:00Z"}
    t.exchange(
        "StartTransaction", start, {"legacy": {"transactionId": 3}, "new": {"transactionId": 4}}
    )
    call, *legs, answer = t.frames[-6:]
    t.frames[-6:] = [*legs, call, answer]
    t.exchange("StopTransaction", {"transactionId": 3, "meterStop": 30}, {"legacy": {}, "new": {}})


def _junk(n: int) -> list[FrameRecord]:
    cp = "CP-junk"
    raws = ["not json", "{}", "[]", "[2]", '[2,"j1"]', '[2,"j2","StatusNotification",[]]',
            '[2,7,"Heartbeat",{}]', '[5,"j3",{}]', '[3,"nobody",{}]', '[4,"nobody","E","d",{}]',
            '[2,"j4","StatusNotification",{"connectorId":1,"status":"Available"}]']  # fmt: skip
    out = []
    for i, raw in enumerate(raws):
        out.append(FrameRecord(cp, D.FROM_CHARGER, T0 + (n + i) * MS, "ocpp1.6", raw, instance="e",
                               connection_id=""))  # fmt: skip
    # A quirk rule rewrote the frame: the normalised text is what counts.
    out.append(FrameRecord(cp, D.FROM_CHARGER, T0 + (n + 20) * MS, "ocpp1.6",
                           '[2,"j5","StatusNotification",{"connectorId":"1","status":"Charging"}]',
                           normalized='[2,"j5","StatusNotification",'
                           '{"connectorId":1,"status":"Charging","errorCode":"NoError"}]',
                           rules=["connector-id-as-number"], connection_id="c"))  # fmt: skip
    return out


def corpus() -> list[tuple[int, FrameRecord]]:
    """Frames of several chargers interleaved in capture order, with stream sequences."""
    traffic = [
        Traffic("CP-16"),
        Traffic("CP-16-noshadow"),
        Traffic("CP-201", ocpp="ocpp2.0.1", connection_id="conn-2"),
        Traffic("CP-odd-16"),
        Traffic("CP-odd-201", ocpp="ocpp2.0.1"),
        Traffic("CP-order"),
    ]
    session_16(traffic[0])
    session_16(traffic[1], new_answers_start=False)
    session_201(traffic[2])
    _odd_16(traffic[3])
    _odd_201(traffic[4])
    _reordered(traffic[5])
    records = [r for t in traffic for _, r in t.frames] + _junk(0)
    records.sort(key=lambda r: r.ts_ns)  # stable: chargers interleave, each in its own order
    return [(seq, r) for seq, r in enumerate(records, 100)]


def derive(frames: list[tuple[int, FrameRecord]]) -> tuple[list[EventBase], dict[str, Session]]:
    n = Normaliser()
    events: list[EventBase] = []
    sessions: dict[str, Session] = {}
    for seq, record in frames:
        for event in n.feed(seq, record):
            events.append(event)
            gtx = transaction_of(event)
            if gtx is not None:
                session = apply(sessions.get(gtx), event)
                assert session is not None
                sessions[gtx] = session
    return events, sessions


def lines(events: list[EventBase], sessions: dict[str, Session]) -> list[bytes]:
    return [to_json(e) for e in events] + [s.model_dump_json().encode() for s in sessions.values()]


def test_the_corpus_gives_the_pinned_events_and_sessions_byte_for_byte() -> None:
    events, sessions = derive(corpus())
    assert len(events) > 130  # the corpus still exercises the normaliser
    assert lines(events, sessions) == GOLDEN.read_bytes().splitlines()


def test_folding_a_batch_at_once_gives_what_applying_each_event_gives() -> None:
    """The journal folds each transaction's events of a batch with `fold`, one copy per batch."""
    events, sessions = derive(corpus())
    by_tx: dict[str, list[EventBase]] = {}
    for e in events:
        gtx = transaction_of(e)
        if gtx is not None:
            by_tx.setdefault(gtx, []).append(e)
    for gtx, evs in by_tx.items():
        half = len(evs) // 2
        once = fold(fold(None, evs[:half]), evs[half:])
        assert once is not None
        assert once.model_dump_json() == sessions[gtx].model_dump_json()


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_bytes(b"\n".join(lines(*derive(corpus()))) + b"\n")
    print(f"wrote {GOLDEN}")
