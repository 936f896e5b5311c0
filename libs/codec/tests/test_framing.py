"""decode/encode on raw frames (OCPP-J 1.6 §4, 2.0.1 Part 4 §4)."""

from __future__ import annotations

import orjson
import pytest

from sy_codec import (
    MAX_MESSAGE_ID_LENGTH,
    Call,
    CallError,
    CallResult,
    CallResultError,
    ErrorKind,
    FrameError,
    MessageType,
    OcppVersion,
    Send,
    decode,
    encode,
    error_code,
    peek_message_type,
)

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21
PRE_21 = [V16, V201]
ALL = [V16, V201, V21]

ID_36 = "a" * MAX_MESSAGE_ID_LENGTH
ID_37 = "a" * (MAX_MESSAGE_ID_LENGTH + 1)


def decode_error(frame: str | bytes, version: OcppVersion) -> FrameError:
    with pytest.raises(FrameError) as info:
        decode(frame, version)
    return info.value


# (frame, kind, message id carried by the error, answerable); same outcome in every version.
MALFORMED = [
    # Not JSON / not UTF-8 (1.6 §4.1.2, 2.0.1 Part 4 §4.1.2): nothing is readable.
    ("", ErrorKind.FORMAT, None, True),
    ("not json", ErrorKind.FORMAT, None, True),
    ('[2,"1","Heartbeat",{}', ErrorKind.FORMAT, None, True),
    ("[NaN]", ErrorKind.FORMAT, None, True),
    (b"\xff\xfe[2]", ErrorKind.FORMAT, None, True),
    (b'[2,"\xc3\x28","Heartbeat",{}]', ErrorKind.FORMAT, None, True),
    ("[" * 5000 + "]" * 5000, ErrorKind.FORMAT, None, True),
    ('[2,"1","Heartbeat",' + '{"a":' * 3000 + "1" + "}" * 3000 + "]", ErrorKind.FORMAT, None, True),
    # Valid JSON but not an OCPP-J frame: RpcFrameworkError (2.0.1 Part 4 §4.3).
    ("{}", ErrorKind.RPC_FRAMEWORK, None, True),
    ('{"2":"1"}', ErrorKind.RPC_FRAMEWORK, None, True),
    ("[]", ErrorKind.RPC_FRAMEWORK, None, True),
    ("null", ErrorKind.RPC_FRAMEWORK, None, True),
    ('"[2]"', ErrorKind.RPC_FRAMEWORK, None, True),
    ('["2","7","Heartbeat",{}]', ErrorKind.RPC_FRAMEWORK, "7", True),
    ('[2.0,"7","Heartbeat",{}]', ErrorKind.RPC_FRAMEWORK, "7", True),
    ('[true,"7","Heartbeat",{}]', ErrorKind.RPC_FRAMEWORK, "7", True),
    ('[null,7,"Heartbeat",{}]', ErrorKind.RPC_FRAMEWORK, None, True),
    # MessageId unreadable or longer than string[36] (2.0.1 Part 4 §4.1.4 Table 4).
    ("[2]", ErrorKind.RPC_FRAMEWORK, None, True),
    ('[2, 123, "Heartbeat", {}]', ErrorKind.RPC_FRAMEWORK, None, True),
    ('[2,null,"Heartbeat",{}]', ErrorKind.RPC_FRAMEWORK, None, True),
    (f'[2,"{ID_37}","Heartbeat",{{}}]', ErrorKind.RPC_FRAMEWORK, None, True),
    ("[3,123,{}]", ErrorKind.RPC_FRAMEWORK, None, False),
    ('[4,["x"],"GenericError","",{}]', ErrorKind.RPC_FRAMEWORK, None, False),
    # Unknown message type (1.6 §4.1.3, 2.0.1 Part 4 §4.4).
    ('[9,"a","X",{}]', ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED, "a", True),
    ("[0]", ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED, None, True),
    ('[-2,"a","Heartbeat",{}]', ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED, "a", True),
    (f'[9,"{ID_37}"]', ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED, None, True),
    # CALL layout (1.6 §4.2.1, 2.0.1 Part 4 §4.2.1): 4 elements, action string, payload object.
    ('[2,"1","Heartbeat"]', ErrorKind.PROTOCOL, "1", True),
    ('[2,"1","Heartbeat",{},{}]', ErrorKind.PROTOCOL, "1", True),
    ('[2,"1",42,{}]', ErrorKind.PROTOCOL, "1", True),
    ('[2,"1",null,{}]', ErrorKind.PROTOCOL, "1", True),
    ('[2,"1","Heartbeat",[]]', ErrorKind.FORMAT, "1", True),
    ('[2,"1","Heartbeat","{}"]', ErrorKind.FORMAT, "1", True),
    ('[2,"1","Heartbeat",[[[[[[[[[[["deep"]]]]]]]]]]]]', ErrorKind.FORMAT, "1", True),
    # CALLRESULT layout (§4.2.2): broken results are never answered.
    ('[3,"1"]', ErrorKind.PROTOCOL, "1", False),
    ('[3,"1",{},{}]', ErrorKind.PROTOCOL, "1", False),
    ('[3,"1",[]]', ErrorKind.FORMAT, "1", False),
    ('[3,"1",0]', ErrorKind.FORMAT, "1", False),
    # CALLERROR layout (§4.2.3): 5 elements, code and description strings, details object.
    ('[4,"1","NotSupported"]', ErrorKind.PROTOCOL, "1", False),
    ('[4,"1","NotSupported","",{},1]', ErrorKind.PROTOCOL, "1", False),
    ('[4,"1",404,"",{}]', ErrorKind.PROTOCOL, "1", False),
    ('[4,"1","GenericError",null,{}]', ErrorKind.PROTOCOL, "1", False),
    ('[4,"1","GenericError","",null]', ErrorKind.FORMAT, "1", False),
    ('[4,"1","GenericError","",[]]', ErrorKind.FORMAT, "1", False),
]


@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize(("frame", "kind", "message_id", "answerable"), MALFORMED)
def test_malformed_frames(
    frame: str | bytes,
    kind: ErrorKind,
    message_id: str | None,
    answerable: bool,
    version: OcppVersion,
) -> None:
    error = decode_error(frame, version)
    assert (error.kind, error.message_id, error.answerable) == (kind, message_id, answerable)
    assert error.description


@pytest.mark.parametrize(
    ("frame", "v16_code", "v201_code"),
    [
        ("not json", "FormationViolation", "FormatViolation"),
        ("[]", "FormationViolation", "RpcFrameworkError"),
        ("[2, 123, 'x']".replace("'", '"'), "FormationViolation", "RpcFrameworkError"),
        ('[9,"a","X",{}]', "NotSupported", "MessageTypeNotSupported"),
        ('[2,"1","Heartbeat"]', "ProtocolError", "ProtocolError"),
        ('[2,"1","Heartbeat",[]]', "FormationViolation", "FormatViolation"),
    ],
)
def test_wire_codes_per_version(frame: str, v16_code: str, v201_code: str) -> None:
    assert decode_error(frame, V16).to_call_error(V16).error_code == v16_code
    assert decode_error(frame, V201).to_call_error(V201).error_code == v201_code


@pytest.mark.parametrize("version", PRE_21)
@pytest.mark.parametrize(
    "frame", ['[5,"1","GenericError","",{}]', '[6,"1","NotifyPeriodicEventStream",{}]']
)
def test_21_message_types_are_unknown_before_21(frame: str, version: OcppVersion) -> None:
    error = decode_error(frame, version)
    assert error.kind is ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED
    assert error.message_id == "1"
    assert error.answerable


def test_callresulterror_decodes_in_21() -> None:
    message = decode('[5,"1","GenericError","bad result",{"a":1}]', V21)
    assert message == CallResultError("1", "GenericError", "bad result", {"a": 1})


def test_send_decodes_in_21() -> None:
    message = decode('[6,"1","NotifyPeriodicEventStream",{"id":1}]', V21)
    assert message == Send("1", "NotifyPeriodicEventStream", {"id": 1})


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        ('[5,"1","GenericError",""]', ErrorKind.PROTOCOL),
        ('[5,"1","GenericError","",[]]', ErrorKind.FORMAT),
        ('[6,"1","NotifyPeriodicEventStream"]', ErrorKind.PROTOCOL),
        ('[6,"1",{},{}]', ErrorKind.PROTOCOL),
        ('[6,"1","NotifyPeriodicEventStream",[]]', ErrorKind.FORMAT),
    ],
)
def test_broken_21_frames_are_never_answered(frame: str, kind: ErrorKind) -> None:
    error = decode_error(frame, V21)
    assert (error.kind, error.message_id, error.answerable) == (kind, "1", False)


@pytest.mark.parametrize("version", ALL)
def test_message_id_of_exactly_36_characters_is_accepted(version: OcppVersion) -> None:
    message = decode(f'[2,"{ID_36}","Heartbeat",{{}}]', version)
    assert message == Call(ID_36, "Heartbeat", {})


@pytest.mark.parametrize("version", ALL)
def test_too_long_id_is_answered_with_minus_one(version: OcppVersion) -> None:
    error = decode_error(f'[2,"{ID_37}","Heartbeat",{{}}]', version)
    assert error.to_call_error(version).message_id == "-1"


@pytest.mark.parametrize("version", ALL)
def test_null_payload_is_an_empty_payload(version: OcppVersion) -> None:
    # 1.6 §4.2.1 Table 4 / 2.0.1 Part 4 §4.1.5: null and {} both mean "no payload".
    assert decode('[2,"1","Heartbeat",null]', version) == Call("1", "Heartbeat", {})
    assert decode('[3,"1",null]', version) == CallResult("1", {})


@pytest.mark.parametrize("version", ALL)
def test_bytes_and_str_decode_alike(version: OcppVersion) -> None:
    text = '[2,"1","DataTransfer",{"vendorId":"Vändor","data":"✓"}]'
    assert decode(text, version) == decode(text.encode(), version)
    assert decode(text, version) == Call("1", "DataTransfer", {"vendorId": "Vändor", "data": "✓"})


def test_invalid_utf8_is_named_in_the_description() -> None:
    frame = b'[2,"1","Heartbeat",{"x":"\xff"}]'
    error = decode_error(frame, V201)
    assert "UTF-8" in error.description
    bad_byte = frame.index(b"\xff")
    assert f"offset {bad_byte}" in error.description


def test_lone_surrogate_in_str_is_a_format_violation() -> None:
    assert decode_error('[2,"\ud800","Heartbeat",{}]', V16).kind is ErrorKind.FORMAT


def test_invalid_json_is_not_echoed_back() -> None:
    # 2.0.1 Part 4 §4.2.3: the CALLERROR must not carry the corrupt frame itself.
    frame = '[2,"1","Heartbeat",{SECRET-JUNK'
    call_error = decode_error(frame, V201).to_call_error(V201)
    assert "SECRET-JUNK" not in encode(call_error)


VALID = {
    V16: [
        '[2,"19223201","BootNotification",'
        '{"chargePointVendor":"VendorX","chargePointModel":"SingleSocketCharger"}]',
        '[3,"19223201",{"status":"Accepted","currentTime":"2013-02-01T20:53:32.486Z","interval":300}]',
        '[4,"162376037","NotSupported","SendLocalList.req not implemented",{}]',
        '[2,"1","SetChargingProfile",{"limit":21.4,"n":-1,"ok":true,"none":null}]',
        '[2,"","Heartbeat",{}]',
    ],
    V201: [
        '[2,"19223201","BootNotification",'
        '{"reason":"PowerUp","chargingStation":{"model":"SingleSocketCharger","vendorName":"VendorX"}}]',
        '[3,"19223201",{"currentTime":"2013-02-01T20:53:32.486Z","interval":300,"status":"Accepted"}]',
        '[4,"162376037","NotSupported","SetDisplayMessageRequest not implemented",{}]',
        '[4,"x","GenericError","",{"cause":{"nested":[1,2.5,"ü"]}}]',
    ],
    V21: [
        '[2,"1","Heartbeat",{}]',
        '[5,"1","OccurrenceConstraintViolation","missing status",{}]',
        '[6,"2","NotifyPeriodicEventStream",{"id":1,"pending":0,"basetime":"2024-01-01T00:00:00Z"}]',
    ],
}


@pytest.mark.parametrize(
    ("version", "frame"),
    [(version, frame) for version, frames in VALID.items() for frame in frames],
)
def test_round_trip(version: OcppVersion, frame: str) -> None:
    assert encode(decode(frame, version)) == frame


def test_decode_then_encode_is_compact() -> None:
    frame = '[ 2 ,\n  "1" , "Heartbeat" ,\t{ } ]'
    assert encode(decode(frame, V16)) == '[2,"1","Heartbeat",{}]'


def test_encode_every_message_shape() -> None:
    assert encode(Call("1", "Heartbeat", {})) == '[2,"1","Heartbeat",{}]'
    assert encode(CallResult("1", {"currentTime": "x"})) == '[3,"1",{"currentTime":"x"}]'
    assert encode(CallError("1", "GenericError")) == '[4,"1","GenericError","",{}]'
    assert encode(CallResultError("1", "GenericError", "d")) == '[5,"1","GenericError","d",{}]'
    assert encode(Send("1", "NotifyPeriodicEventStream", {})) == (
        '[6,"1","NotifyPeriodicEventStream",{}]'
    )


def test_encode_uses_plain_integers_for_message_type() -> None:
    frame = orjson.loads(encode(Call("1", "Heartbeat", {})))
    assert type(frame[0]) is int
    assert frame[0] == 2
    assert int(MessageType.CALL) == 2


def test_decoded_messages_are_immutable() -> None:
    message = decode('[2,"1","Heartbeat",{}]', V16)
    with pytest.raises(AttributeError):
        message.message_id = "2"  # type: ignore[misc]


@pytest.mark.parametrize("version", ALL)
def test_error_codes_round_trip_through_to_call_error(version: OcppVersion) -> None:
    error = decode_error('[2,"1","Heartbeat"]', version)
    frame = orjson.loads(encode(error.to_call_error(version)))
    assert frame == [4, "1", error_code(ErrorKind.PROTOCOL, version), error.description, {}]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[2,"1","Heartbeat",{}]', 2),
        ('  [3,"1",{}]', 3),
        ('[4,"1","GenericError","",{}]', 4),
        ('[6,"1","GenericError","",{}]', 6),
        ('[7,"1",{}]', None),
        ('[1,"1",{}]', None),
        ("[", None),
        ("", None),
        ("not a frame", None),
        ('{"2": 1}', None),
    ],
)
def test_the_message_type_is_read_without_parsing(text: str, expected: int | None) -> None:
    assert peek_message_type(text) == expected
