"""Envelopes on the bus: what `to_bytes` writes is what `from_bytes` reads, in every form."""

from dataclasses import asdict

import orjson
import pytest

from sy_bus import (
    BackendAuth,
    BackendRef,
    ChargerState,
    EffectiveRoute,
    FrameDirection,
    FrameRecord,
    Presence,
)

FRAME = FrameRecord(
    charger_id="CP 1.a",
    direction=FrameDirection.FROM_BACKEND,
    ts_ns=1_700_000_000_123_456_789,
    ocpp="ocpp1.6",
    raw='[3,"m1",{}]',
    message_type=3,
    message_id="m1",
    backend="legacy",
    instance="connectors-0",
    connection_id="c-1",
    normalized='[3,"m1",{ }]',
    rules=["trim"],
)


@pytest.mark.parametrize(
    "envelope",
    [
        FRAME,
        Presence("CP-1", True, "edge-0", "c-1", "ocpp2.0.1", 17, "takeover"),
        ChargerState("CP-1", "ocpp1.6", '[2,"b","BootNotification",{}]', {"0/1": "s"}, 5),
        EffectiveRoute(
            BackendRef(
                "new",
                "wss://new",
                ["ocpp2.0.1"],
                {"ocpp1.6": "wss://old"},
                BackendAuth("basic", "u", "env:P"),
                ["Reset"],
                2.5,
                30.0,
            ),
            [BackendRef("observer", "ws://observer", commands=[])],
            version=9,
        ),
    ],
    ids=lambda e: type(e).__name__,
)
def test_bytes_are_the_json_of_every_field(envelope: object) -> None:
    assert envelope.to_bytes() == orjson.dumps(asdict(envelope))  # type: ignore[attr-defined]
    assert type(envelope).from_bytes(envelope.to_bytes()) == envelope  # type: ignore[attr-defined]


def test_a_frame_record_reads_back_in_any_key_order_and_without_defaults() -> None:
    doc = orjson.loads(FRAME.to_bytes())
    assert FrameRecord.from_bytes(orjson.dumps(dict(reversed(doc.items())))) == FRAME
    old = {k: doc[k] for k in ("charger_id", "direction", "ts_ns", "ocpp", "raw")}
    assert FrameRecord.from_bytes(orjson.dumps(old)) == FrameRecord(
        "CP 1.a", FrameDirection.FROM_BACKEND, 1_700_000_000_123_456_789, "ocpp1.6", '[3,"m1",{}]'
    )


@pytest.mark.parametrize("change", [{"direction": "sideways"}, {"surprise": 1}, {"raw": None}])
def test_a_frame_record_that_is_not_one_is_refused(change: dict[str, object]) -> None:
    doc = {**orjson.loads(FRAME.to_bytes()), **change}
    doc = {k: v for k, v in doc.items() if v is not None}  # None: the field is missing
    with pytest.raises((ValueError, TypeError)):
        FrameRecord.from_bytes(orjson.dumps(doc))
