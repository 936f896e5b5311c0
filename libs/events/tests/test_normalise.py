"""Frames of both OCPP versions in, canonical events out: pure tests, no servers."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from sy_bus import FrameDirection, FrameRecord
from sy_events import (
    AuthorizationDecided,
    BackendCommandCompleted,
    BackendCommandIssued,
    BootReported,
    ConnectorStatus,
    ConnectorStatusChanged,
    EventBase,
    Normaliser,
    OccupiedDetail,
    TransactionAcknowledged,
    TransactionEnded,
    TransactionStarted,
    TransactionUpdated,
    parse_event,
    to_json,
)
from sy_events.samples import Traffic, session_16, session_201
from sy_events.sessions import Session, apply


def of(events: list[EventBase], kind: type[EventBase]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def fold(events: list[EventBase]) -> dict[str, Session]:
    sessions: dict[str, Session] = {}
    for e in events:
        gtx = getattr(e, "gateway_transaction_id", None)
        if gtx is not None:
            s = apply(sessions.get(gtx), e)
            assert s is not None
            sessions[gtx] = s
    return sessions


def test_a_16_session_gives_boot_status_authorization_and_the_transaction() -> None:
    t = Traffic("CP-16")
    session_16(t)
    events = t.events()

    [boot] = of(events, BootReported)
    assert (boot.vendor, boot.model, boot.firmware_version, boot.serial_number) == (
        "Alfen",
        "NG910",
        "6.1.0",
        "ACE0001",
    )
    [status] = of(events, ConnectorStatusChanged)
    assert (status.evse_id, status.connector_id, status.status, status.detail) == (
        1,
        1,
        ConnectorStatus.OCCUPIED,
        OccupiedDetail.PREPARING,
    )
    assert status.error_code is None
    [decided] = of(events, AuthorizationDecided)
    assert (decided.id_token.value, decided.status, decided.accepted, decided.backend) == (
        "TAG-1",
        "accepted",
        True,
        "legacy",
    )
    [started] = of(events, TransactionStarted)
    [updated] = of(events, TransactionUpdated)
    [ended] = of(events, TransactionEnded)
    gtx = started.gateway_transaction_id
    # The charger's later messages carry the id the primary assigned; they map to the same session.
    assert updated.gateway_transaction_id == gtx == ended.gateway_transaction_id
    assert updated.charger_transaction_id == "1001"
    assert started.meter_start_wh == 1000.0
    assert ended.meter_stop_wh == 4500.0
    assert ended.stop_reason == "ev_disconnected"
    # kWh with an odd spelling, a missing unit and a missing measurand, kW: all normalised.
    readings = [(r.measurand, r.value, r.unit, r.phase) for r in updated.readings]
    assert readings == [
        ("Energy.Active.Import.Register", 2500.0, "Wh", None),
        ("Energy.Active.Import.Register", 2500.0, "Wh", "L1"),
        ("Power.Active.Import", 7200.0, "W", None),
        ("Current.Import", 16.1, "A", "L2"),
    ]
    # Every event id is derived from its frame's stream sequence.
    assert all(e.event_id == f"f{e.frame_seq}-0" for e in events)


def test_each_backend_acknowledgement_carries_that_backends_transaction_id() -> None:
    t = Traffic("CP-acks")
    session_16(t)
    acks = of(t.events(), TransactionAcknowledged)
    started = {(a.backend, a.transaction_id) for a in acks if a.stage == "started"}
    assert started == {("legacy", "1001"), ("new", "55"), (None, "1001")}
    assert all(a.accepted and a.latency_ms is not None and a.latency_ms > 0 for a in acks)
    [session] = fold(t.events()).values()
    assert session.backend_transaction_ids == {"legacy": "1001", "new": "55"}
    assert session.backends == ["legacy", "new"]
    assert session.charger_transaction_id == "1001"


def test_the_same_session_in_16_and_201_gives_the_same_canonical_session() -> None:
    t16, t201 = Traffic("CP-same", ocpp="ocpp1.6"), Traffic("CP-same", ocpp="ocpp2.0.1")
    session_16(t16)
    session_201(t201)
    [s16] = fold(t16.events()).values()
    [s201] = fold(t201.events()).values()
    # What differs by nature: the ids each side assigned, the version, the token type.
    differ = {
        "gateway_transaction_id",
        "charger_transaction_id",
        "ocpp",
        "id_token_type",
        "backend_transaction_ids",
        "acknowledgements",
        "first_seen",
        "last_seen",
    }
    assert s16.model_dump(exclude=differ) == s201.model_dump(exclude=differ)
    assert s16.energy_wh == 3500.0
    assert s16.status == "ended"
    assert s201.charger_transaction_id == "f3a1-7c"
    assert s201.backend_transaction_ids == {"legacy": "f3a1-7c", "new": "f3a1-7c"}
    b16, b201 = of(t16.events(), BootReported), of(t201.events(), BootReported)
    keep = {"vendor", "model", "firmware_version", "serial_number"}
    assert b16[0].model_dump(include=keep) == b201[0].model_dump(include=keep)


def test_a_backend_that_never_answered_the_start_shows_in_the_session() -> None:
    t = Traffic("CP-missing")
    session_16(t, new_answers_start=False)
    [session] = fold(t.events()).values()
    assert session.acknowledgements["legacy"].started is True
    assert session.acknowledgements["new"].started is None
    assert session.acknowledgements["new"].ended is True
    assert "new" not in session.backend_transaction_ids


def test_a_callerror_on_the_start_is_an_unaccepted_acknowledgement() -> None:
    t = Traffic("CP-err")
    start = {"connectorId": 2, "idTag": "X", "meterStart": 0, "timestamp": "2023-11-14T22:14:00Z"}
    t.exchange(
        "StartTransaction",
        start,
        {"legacy": ("InternalError", "db down"), "new": {"transactionId": 9}},
    )
    acks = {a.backend: a for a in of(t.events(), TransactionAcknowledged)}
    assert acks["legacy"].accepted is False
    assert acks["legacy"].error_code == "InternalError"
    assert acks[None].accepted is False  # the charger got legacy's CALLERROR
    assert acks["new"].transaction_id == "9"


def test_a_retried_start_is_one_session() -> None:
    t = Traffic("CP-retry")
    start = {"connectorId": 1, "idTag": "X", "meterStart": 5, "timestamp": "2023-11-14T22:14:00Z"}
    t.exchange("StartTransaction", start, {"legacy": ("InternalError", "")})
    t.exchange("StartTransaction", start, {"legacy": {"transactionId": 7}})
    events = t.events()
    assert len(of(events, TransactionStarted)) == 1
    assert len(fold(events)) == 1


def test_201_transaction_ids_are_strings_and_map_to_one_session() -> None:
    t = Traffic("CP-201", ocpp="ocpp2.0.1")
    session_201(t)
    events = t.events()
    [started] = of(events, TransactionStarted)
    [updated] = of(events, TransactionUpdated)
    [ended] = of(events, TransactionEnded)
    assert started.gateway_transaction_id == updated.gateway_transaction_id
    assert ended.gateway_transaction_id == started.gateway_transaction_id
    assert started.charger_transaction_id == "f3a1-7c"
    assert started.meter_start_wh == 1000.0  # 1 x 10^3 Wh
    assert updated.readings[0].value == 2500.0  # kWh -> Wh
    assert updated.readings[1].unit == "W"  # Power without a unit: W
    assert updated.charging_state == "charging"
    assert updated.seq_no == 1
    assert ended.stop_reason == "ev_disconnected"
    [status] = of(events, ConnectorStatusChanged)
    assert (status.status, status.detail) == (ConnectorStatus.OCCUPIED, None)


def test_the_same_frames_give_the_same_events_twice() -> None:
    t = Traffic("CP-replay")
    session_16(t)
    first = [e.model_dump() for e in t.events()]
    again = [e.model_dump() for e in t.events(Normaliser())]
    assert first == again
    # ... and the gateway id does not depend on the stream sequence, only on the session.
    t2 = Traffic("CP-replay")
    t2.frames = [(seq + 1000, rec) for seq, rec in t.frames]
    gtx = {e.gateway_transaction_id for e in of(t.events(), TransactionStarted)}
    assert gtx == {e.gateway_transaction_id for e in of(t2.events(), TransactionStarted)}


def test_backend_commands_are_issued_and_completed_with_the_backend_named() -> None:
    t = Traffic("CP-cmd")
    t.command("new", "Reset", {"type": "Soft"}, {"status": "Accepted"})
    t.command("legacy", "ChangeConfiguration", {"key": "K", "value": "V"}, {"status": "Rejected"})
    t.command("legacy", "UnlockConnector", {"connectorId": 1}, ("NotImplemented", ""))
    issued = of(t.events(), BackendCommandIssued)
    done = of(t.events(), BackendCommandCompleted)
    assert [(e.backend, e.action) for e in issued] == [
        ("new", "Reset"),
        ("legacy", "ChangeConfiguration"),
        ("legacy", "UnlockConnector"),
    ]
    assert [(e.backend, e.accepted, e.status, e.error_code) for e in done] == [
        ("new", True, "accepted", None),
        ("legacy", False, "rejected", None),
        ("legacy", False, None, "NotImplemented"),
    ]


SN16 = {"connectorId": 1, "errorCode": "NoError"}
SN201 = {"timestamp": "2023-11-14T22:13:30Z", "evseId": 2, "connectorId": 1}


@pytest.mark.parametrize(
    ("payload", "status", "detail", "error"),
    [
        ({**SN16, "status": "Charging"}, "occupied", "charging", None),
        (
            {**SN16, "status": "Faulted", "errorCode": "GroundFailure"},
            "faulted",
            None,
            "ground_failure",
        ),
        ({**SN16, "status": "SuspendedEVSE"}, "occupied", "suspended_evse", None),
        ({**SN16, "status": "Weird"}, "unknown", None, None),
        ({**SN201, "connectorStatus": "Faulted"}, "faulted", None, None),
    ],
)
def test_status_vocabulary(
    payload: dict[str, Any], status: str, detail: str | None, error: str | None
) -> None:
    t = Traffic("CP-status")
    t.exchange("StatusNotification", payload, {"legacy": {}})
    [event] = of(t.events(), ConnectorStatusChanged)
    assert (event.status, event.detail, event.error_code) == (status, detail, error)


def test_frames_that_are_not_ocpp_give_no_events_and_do_not_break_the_rest() -> None:
    n = Normaliser()
    junk = FrameRecord("CP-junk", FrameDirection.FROM_CHARGER, 1, "ocpp1.6", "not json")
    assert n.feed(1, junk) == []
    orphan = FrameRecord("CP-junk", FrameDirection.TO_CHARGER, 2, "ocpp1.6", '[3,"zz",{}]')
    assert n.feed(2, orphan) == []
    t = Traffic("CP-junk")
    t.exchange("Authorize", {"idTag": "A"}, {"legacy": {"idTagInfo": {"status": "Blocked"}}})
    events: list[EventBase] = []
    for seq, rec in t.frames:
        events += n.feed(seq + 10, rec)
    [decided] = of(events, AuthorizationDecided)
    assert (decided.status, decided.accepted) == ("blocked", False)


def test_backend_hops_on_the_stream_before_the_chargers_call_still_count() -> None:
    """Edge and connectors publish independently: the stream order is not the capture order."""
    t = Traffic("CP-order")
    start = {"connectorId": 1, "idTag": "X", "meterStart": 0, "timestamp": "2023-11-14T22:14:00Z"}
    t.exchange("StartTransaction", start, {"legacy": {"transactionId": 3}})
    call, leg_call, leg_answer, answer = t.frames
    n = Normaliser()
    events: list[EventBase] = []
    for seq, rec in (leg_call, leg_answer, call, answer):
        events += n.feed(seq, rec)
    acks = {a.backend: a.transaction_id for a in of(events, TransactionAcknowledged)}
    assert acks == {"legacy": "3", None: "3"}


def test_a_restarted_normaliser_learns_open_transactions() -> None:
    t = Traffic("CP-restart")
    session_16(t)
    first = Normaliser()
    before = [e for seq, rec in t.frames[:-6] for e in first.feed(seq, rec)]
    [started] = of(before, TransactionStarted)
    later = Normaliser()  # a restart: the stop arrives with an id it never saw assigned
    stop_records = [rec for _, rec in t.frames[-6:]]
    assert later.unknown_transactions(stop_records) == {("CP-restart", "1001")}
    later.learn("CP-restart", "1001", started.gateway_transaction_id)
    after = [e for seq, rec in t.frames[-6:] for e in later.feed(seq, rec)]
    [ended] = of(after, TransactionEnded)
    assert ended.gateway_transaction_id == started.gateway_transaction_id


def _strings(value: Any) -> list[str]:
    """Every string in decoded JSON, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]
    return []


def test_a_nul_in_what_the_charger_sends_is_escaped_in_every_event() -> None:
    # JSON carries U+0000 escaped; Postgres text and jsonb refuse it, so no event may hold one.
    t = Traffic("CP-nul")
    t.exchange(
        "BootNotification",
        {"chargePointVendor": "V\x00", "chargePointModel": "M", "firmwareVersion": "\x00"},
        {"legacy": {"status": "Accepted", "currentTime": "2023-11-14T22:13:20Z", "interval": 60}},
    )
    t.exchange(
        "StatusNotification",
        {
            "connectorId": 1,
            "status": "Faulted",
            "errorCode": "Other\x00Error",
            "info": "bad\x00info",
            "vendorErrorCode": "\x00",
        },
        {"legacy": {}},
    )
    t.exchange("Authorize", {"idTag": "TAG\x00"}, {"legacy": {"idTagInfo": {"status": "Accepted"}}})
    t.command("legacy", "DataTransfer", {"vendorId": "x\x00", "data\x00": ["\x00"]}, {})
    events = t.events()
    [boot] = of(events, BootReported)
    assert (boot.vendor, boot.firmware_version) == ("V\\u0000", "\\u0000")
    [status] = of(events, ConnectorStatusChanged)
    assert (status.info, status.vendor_error_code) == ("bad\\u0000info", "\\u0000")
    assert status.error_code is not None and "\x00" not in status.error_code
    [decided] = of(events, AuthorizationDecided)
    assert decided.id_token.value == "TAG\\u0000"
    [issued] = of(events, BackendCommandIssued)
    assert issued.payload == {"vendorId": "x\\u0000", "data\\u0000": ["\\u0000"]}
    for e in events:
        body = orjson.loads(to_json(e))
        assert not [s for s in _strings(body) if "\x00" in s], e
        assert parse_event(to_json(e)) == e


def test_register_values_and_timestamps_beyond_range_are_left_out() -> None:
    # meterStart "NaN" would be published as null; a timestamp whose UTC instant is past year
    # 9999 cannot be held in UTC, which is how the journal stores it.
    t = Traffic("CP-range")
    start = {
        "connectorId": 1,
        "idTag": "T",
        "meterStart": "NaN",
        "timestamp": "9999-12-31T23:00:00-02:00",
    }
    t.exchange("StartTransaction", start, {"legacy": {"transactionId": 9}})
    t.exchange(
        "StatusNotification",
        {**SN16, "status": "Available", "timestamp": "0001-01-01T00:00:00+01:00"},
        {"legacy": {}},
    )
    stop = {"transactionId": 9, "meterStop": "Infinity", "timestamp": "2023-11-14T23:00:00Z"}
    t.exchange("StopTransaction", stop, {"legacy": {}})
    events = t.events()
    [started] = of(events, TransactionStarted)
    assert started.meter_start_wh is None
    assert started.started_at == started.ts  # the capture time stands in
    [status] = of(events, ConnectorStatusChanged)
    assert status.reported_at is None
    [ended] = of(events, TransactionEnded)
    assert ended.meter_stop_wh is None
    for e in events:
        assert parse_event(to_json(e)) == e
