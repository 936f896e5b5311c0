"""Turning SY_FRAMES messages into rows: pure code, no servers."""

from datetime import UTC, datetime

import orjson
import pytest
from nats.aio.msg import Msg

from sy_bus import FrameDirection, FrameRecord
from sy_journal.pull import stream_sequence
from sy_journal.store import Unstorable, frame_row, ns_from_ts, ts_from_ns


def good(**changes: object) -> bytes:
    doc = orjson.loads(
        FrameRecord(
            charger_id="CP 1.a",
            direction=FrameDirection.TO_BACKEND,
            ts_ns=1_700_000_000_123_456_789,
            ocpp="ocpp2.0.1",
            raw='[2,"m1","Heartbeat",{}]',
            message_type=2,
            message_id="m1",
            action="Heartbeat",
            backend="legacy",
            instance="edge-1",
            connection_id="c-9",
        ).to_bytes()
    )
    doc.update(changes)
    return orjson.dumps(doc)


def test_row_keeps_every_field_and_converts_the_timestamp() -> None:
    row = frame_row(42, good())
    assert row == {
        "stream_seq": 42,
        "charger_id": "CP 1.a",
        "direction": "to_backend",
        "ts": datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC),
        "ts_ns": 1_700_000_000_123_456_789,
        "ocpp": "ocpp2.0.1",
        "message_type": 2,
        "message_id": "m1",
        "action": "Heartbeat",
        "backend": "legacy",
        "instance": "edge-1",
        "connection_id": "c-9",
        "raw": '[2,"m1","Heartbeat",{}]',
        "normalized": None,
        "rules": [],
    }


def test_rows_of_rewritten_frames_and_odd_values_are_checked_field_by_field() -> None:
    row = frame_row(7, good(normalized='[2,"m1","Heartbeat",{ }]', rules=["r"], ts_ns=-5))
    assert (row["normalized"], row["rules"], row["ts_ns"]) == (
        '[2,"m1","Heartbeat",{ }]',
        ["r"],
        -5,
    )
    assert frame_row(8, good(message_type=None, message_id=None, action=None))["action"] is None


@pytest.mark.parametrize(
    "reply",
    [
        "$JS.ACK.SY_FRAMES.journal.1.4711.12.1763719200000000000.0",
        "$JS.ACK._.ACCOUNTHASH.SY_FRAMES.journal.1.4711.12.1763719200000000000.0.xyz",
    ],
    ids=["v1", "v2-with-domain"],
)
def test_the_stream_sequence_is_read_from_the_ack_subject(reply: str) -> None:
    msg = Msg(_client=None, subject="sy.frames.a.b", reply=reply)  # type: ignore[arg-type]
    assert stream_sequence(msg) == 4711


def test_timestamp_conversion_is_exact_to_the_microsecond() -> None:
    ts = ts_from_ns(1_700_000_000_999_999_999)
    assert ts == datetime(2023, 11, 14, 22, 13, 20, 999999, tzinfo=UTC)
    assert ns_from_ts(ts) == 1_700_000_000_999_999_000


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"[]", id="not-an-object"),
        pytest.param(b'{"charger_id": "CP1"}', id="missing-fields"),
        pytest.param(good(direction="sideways"), id="unknown-direction"),
        pytest.param(good(surprise=1), id="unknown-field"),
        pytest.param(good(ts_ns="1700000000"), id="ts-as-string"),
        pytest.param(good(ts_ns=2**63), id="ts-beyond-bigint"),
        pytest.param(good(ts_ns=True), id="ts-as-bool"),
        pytest.param(good(message_type=70000), id="type-beyond-smallint"),
        pytest.param(good(charger_id=7), id="charger-as-number"),
        pytest.param(good(action=["Heartbeat"]), id="action-as-list"),
        pytest.param(good(rules=["ok", 3]), id="rule-as-number"),
    ],
)
def test_unstorable_messages_are_rejected_up_front(data: bytes) -> None:
    with pytest.raises(Unstorable):
        frame_row(1, data)


def test_a_nul_character_is_stored_as_its_json_escape_and_the_frame_is_kept() -> None:
    # Postgres text cannot hold NUL: a frame the edge captured as received (malformed, so not
    # even JSON) and ids decoded from JSON may carry one. The frame is kept, NUL spelled out.
    row = frame_row(
        9,
        good(
            raw='[2,"m\x00","Heartbeat",{"x":"\x00"}]',
            message_id="m\x00",
            backend="leg\x00acy",
            rules=["ok", "r\x00"],
        ),
    )
    assert (row["raw"], row["message_id"], row["backend"], row["rules"]) == (
        '[2,"m\\u0000","Heartbeat",{"x":"\\u0000"}]',
        "m\\u0000",
        "leg\\u0000acy",
        ["ok", "r\\u0000"],
    )
    assert row["action"] == "Heartbeat"
    # The escape as a frame's JSON carries it is six plain characters: stored as sent.
    assert frame_row(10, good(raw='[2,"m1","Heartbeat",{"x":"\\u0000"}]'))["raw"] == (
        '[2,"m1","Heartbeat",{"x":"\\u0000"}]'
    )
