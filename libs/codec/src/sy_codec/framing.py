"""OCPP-J framing: text <-> `Message`, without looking at what the payload means.

`decode` checks, in this order, and raises `FrameError` at the first problem:

1. not valid JSON, or not UTF-8 (OCPP-J 1.6 §4.1.2, 2.0.1 Part 4 §4.1.2)
   -> FORMAT, no message id.
2. not an array, an empty array, or a MessageTypeId that is not an integer
   -> RPC_FRAMEWORK, id recovered if possible.
3. a MessageTypeId the version does not define (1.6 §4.1.3, 2.0.1 Part 4 §4.1.3 and §4.4)
   -> MESSAGE_TYPE_NOT_SUPPORTED, id recovered if possible.
4. MessageId missing, not a string, or over 36 characters (1.6 §4.1.4, 2.0.1 Part 4 §4.1.4)
   -> RPC_FRAMEWORK, no message id.
5. wrong number of elements for the type, or an Action / ErrorCode / ErrorDescription that is
   not a string (1.6 §4.2, 2.0.1 Part 4 §4.2) -> PROTOCOL, with the id.
6. a payload / ErrorDetails that is not a JSON object -> FORMAT, with the id.

Why these kinds (2.0.1 Part 4 §4.3 Table 8; 1.6 follows through `error_code`):

* RPC_FRAMEWORK is for frames that cannot be identified as an OCPP-J message at all; Table 8
  gives an unreadable MessageId as the example of an RpcFrameworkError.
  "Recovered" means the id is taken from element [1] when that is a valid id, so the CALLERROR can
  still be correlated; otherwise the answer carries "-1" (2.0.1 Part 4 §4.2.3).
* An unknown message type is answered with MessageTypeNotSupported (2.0.1 Part 4 §4.4). Types 5
  (CALLRESULTERROR) and 6 (SEND) only exist in OCPP 2.1.
* Once type and id are known, the rest splits along the two remaining structural codes:
  PROTOCOL when the *frame* does not have the layout its type requires (ProtocolError is the
  PDU-structure code), FORMAT when the *payload* is not a JSON object at all (FormatViolation is
  the syntax code). What the payload contains is `validation`'s job.

A `null` payload is accepted and decoded as `{}`: OCPP-J 1.6 §4.2.1 Table 4 and 2.0.1 Part 4
§4.1.5 name null and {} as the two notations for "no payload" and only call {} good practice, so a
charger sending null is not violating the framing. Whether that empty payload is acceptable for
the action is then decided by the schema (missing required fields -> OCCURRENCE_CONSTRAINT).
errorDetails gets no such leniency: both specs say it MUST be an object (1.6 §4.2.3 Table 6).

`answerable` is True only for frames that are, or may be, a CALL (anything rejected before the
type is known, an unknown type, or a broken CALL). Broken CALLRESULT, CALLERROR, CALLRESULTERROR
and SEND frames are never answered (SEND by definition; 2.1 has no reply to it).
"""

from __future__ import annotations

from typing import Any, TypeGuard, assert_never

import orjson

from .errors import ErrorKind, FrameError
from .messages import (
    MAX_MESSAGE_ID_LENGTH,
    Call,
    CallError,
    CallResult,
    CallResultError,
    Message,
    MessageType,
    OcppVersion,
    Send,
    message_types,
)

_ELEMENT_COUNT: dict[MessageType, int] = {
    MessageType.CALL: 4,
    MessageType.CALLRESULT: 3,
    MessageType.CALLERROR: 5,
    MessageType.CALLRESULTERROR: 5,
    MessageType.SEND: 4,
}

# MessageTypeId -> (MessageType, element count) for the types each version defines. Built once:
# one dict lookup per frame replaces the membership test, `MessageType(type_id)` (an
# `EnumType.__call__`, ~8 % of the connectors' CPU) and the element-count lookup.
_SHAPES: dict[OcppVersion, dict[int, tuple[MessageType, int]]] = {
    version: {int(kind): (kind, _ELEMENT_COUNT[kind]) for kind in message_types(version)}
    for version in OcppVersion
}

# The wire numbers encode writes: plain ints, so orjson need not go through its enum path.
_CALL = int(MessageType.CALL)
_CALLRESULT = int(MessageType.CALLRESULT)
_CALLERROR = int(MessageType.CALLERROR)
_CALLRESULTERROR = int(MessageType.CALLRESULTERROR)
_SEND = int(MessageType.SEND)


def decode(text: str | bytes, version: OcppVersion) -> Message:
    """Parse one WebSocket text frame received on a `version` connection."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        # Neither message quotes the frame itself, so both are safe to send back (2.0.1 Part 4
        # §4.2.3 forbids echoing invalid JSON).
        raise FrameError(ErrorKind.FORMAT, _syntax_problem(text, exc)) from None

    if not isinstance(data, list) or not data:
        raise FrameError(
            ErrorKind.RPC_FRAMEWORK,
            f"Frame must be a non-empty JSON array, got {_json_type(data)}",
            message_id=_recover_id(data),
        )
    type_id = data[0]
    # `type(...) is int` on purpose: JSON true/false arrive as bool, a subclass of int.
    if type(type_id) is not int:
        raise FrameError(
            ErrorKind.RPC_FRAMEWORK,
            f"MessageTypeId must be an integer, got {_json_type(type_id)}",
            message_id=_recover_id(data),
        )
    shape = _SHAPES[version].get(type_id)
    if shape is None:
        raise FrameError(
            ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED,
            f"MessageTypeId {type_id} is not supported by {version}",
            message_id=_recover_id(data),
        )

    message_type, expected = shape
    answerable = message_type is MessageType.CALL
    message_id = _message_id(data, answerable)

    if len(data) != expected:
        raise FrameError(
            ErrorKind.PROTOCOL,
            f"{message_type.name} must have {expected} elements, got {len(data)}",
            message_id=message_id,
            answerable=answerable,
        )

    if message_type is MessageType.CALL or message_type is MessageType.SEND:
        cls = Call if answerable else Send
        return cls(
            message_id,
            _string(data, 2, "Action", message_id, answerable),
            _payload(data, 3, "Payload", message_id, answerable),
        )
    if message_type is MessageType.CALLRESULT:
        return CallResult(message_id, _payload(data, 2, "Payload", message_id, answerable))
    if message_type is MessageType.CALLERROR or message_type is MessageType.CALLRESULTERROR:
        error_cls = CallError if message_type is MessageType.CALLERROR else CallResultError
        return error_cls(
            message_id,
            _string(data, 2, "ErrorCode", message_id, answerable),
            _string(data, 3, "ErrorDescription", message_id, answerable),
            _object(data, 4, "ErrorDetails", message_id, answerable),
        )
    assert_never(message_type)  # pragma: no cover - every MessageType is handled above


def peek_message_type(text: str) -> int | None:
    """The message type number (2-6) of a frame's text without parsing it, for recording a frame
    that is relayed without being decoded; None when the text does not start like one."""
    head = text.lstrip()[:2]
    if len(head) == 2 and head[0] == "[" and head[1] in "23456":
        return int(head[1])
    return None


def encode(message: Message) -> str:
    """The compact OCPP-J text of `message`: exactly the array the specs define, no whitespace."""
    frame: list[Any]
    if isinstance(message, Call):
        frame = [_CALL, message.message_id, message.action, message.payload]
    elif isinstance(message, CallResult):
        frame = [_CALLRESULT, message.message_id, message.payload]
    elif isinstance(message, Send):
        frame = [_SEND, message.message_id, message.action, message.payload]
    elif isinstance(message, CallError | CallResultError):
        type_id = _CALLERROR if isinstance(message, CallError) else _CALLRESULTERROR
        frame = [
            type_id,
            message.message_id,
            message.error_code,
            message.description,
            message.details,
        ]
    else:
        assert_never(message)
    return orjson.dumps(frame).decode()


def _syntax_problem(text: str | bytes, exc: orjson.JSONDecodeError) -> str:
    # orjson reports bad bytes as a str problem; say plainly that the encoding is wrong
    # (OCPP-J 1.6 §4.1.2, 2.0.1 Part 4 §4.1.2 require UTF-8). Only runs on the error path.
    if isinstance(text, bytes):
        try:
            text.decode("utf-8")
        except UnicodeDecodeError as bad:
            return f"Frame is not valid UTF-8: invalid byte at offset {bad.start}"
    return f"Frame is not valid JSON: {exc}"


def _message_id(data: list[Any], answerable: bool) -> str:
    if len(data) < 2:
        raise FrameError(ErrorKind.RPC_FRAMEWORK, "Frame has no MessageId", answerable=answerable)
    value = data[1]
    if _is_valid_id(value):
        return value
    raise FrameError(ErrorKind.RPC_FRAMEWORK, _id_problem(value), answerable=answerable)


def _string(data: list[Any], index: int, name: str, message_id: str, answerable: bool) -> str:
    value = data[index]
    if not isinstance(value, str):
        raise FrameError(
            ErrorKind.PROTOCOL,
            f"{name} must be a string, got {_json_type(value)}",
            message_id=message_id,
            answerable=answerable,
        )
    return value


def _payload(
    data: list[Any], index: int, name: str, message_id: str, answerable: bool
) -> dict[str, Any]:
    value = data[index]
    if isinstance(value, dict):
        return value
    # null means "no payload" (see the module docstring), which is the same as {}.
    if value is None:
        return {}
    return _object(data, index, name, message_id, answerable)


def _object(
    data: list[Any], index: int, name: str, message_id: str, answerable: bool
) -> dict[str, Any]:
    value = data[index]
    if not isinstance(value, dict):
        raise FrameError(
            ErrorKind.FORMAT,
            f"{name} must be a JSON object, got {_json_type(value)}",
            message_id=message_id,
            answerable=answerable,
        )
    return value


def _is_valid_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and len(value) <= MAX_MESSAGE_ID_LENGTH


def _id_problem(value: object) -> str:
    """What is wrong with a MessageId that `_is_valid_id` rejected."""
    if not isinstance(value, str):
        return f"MessageId must be a string, got {_json_type(value)}"
    return f"MessageId is {len(value)} characters long, at most {MAX_MESSAGE_ID_LENGTH} are allowed"


def _recover_id(data: object) -> str | None:
    """The id of a frame rejected before its type was known, if element [1] holds a valid one."""
    if isinstance(data, list) and len(data) > 1 and _is_valid_id(data[1]):
        value: str = data[1]
        return value
    return None


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array" if value else "empty array"
    return "object"
