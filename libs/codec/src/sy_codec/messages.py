"""OCPP-J message model: versions, message type numbers and the five frame shapes.

These are plain immutable values; turning them into text and back is `framing`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

# OCPP-J 1.6 §4.1.4 Table 3 and 2.0.1 Part 4 §4.1.4 Table 4: string[36], sized for GUIDs.
MAX_MESSAGE_ID_LENGTH = 36


class OcppVersion(StrEnum):
    """An OCPP version; the value is its WebSocket subprotocol name (2.0.1 Part 4 §3.1.2)."""

    V16 = "ocpp1.6"
    V201 = "ocpp2.0.1"
    V21 = "ocpp2.1"


class MessageType(IntEnum):
    """MessageTypeId, the first element of every frame (OCPP-J 1.6 §4.1.3, 2.0.1 Part 4 §4.1.3)."""

    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4
    # Added by OCPP 2.1; a 1.6 or 2.0.1 peer must treat them as unknown message types.
    CALLRESULTERROR = 5
    SEND = 6


_BASE_TYPES = frozenset({MessageType.CALL, MessageType.CALLRESULT, MessageType.CALLERROR})
_MESSAGE_TYPES: dict[OcppVersion, frozenset[MessageType]] = {
    OcppVersion.V16: _BASE_TYPES,
    OcppVersion.V201: _BASE_TYPES,
    OcppVersion.V21: frozenset(MessageType),
}


def message_types(version: OcppVersion) -> frozenset[MessageType]:
    """The message type numbers a peer speaking `version` may send."""
    return _MESSAGE_TYPES[version]


@dataclass(frozen=True, slots=True)
class Call:
    """`[2, messageId, action, payload]`: a request that must be answered."""

    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallResult:
    """`[3, messageId, payload]`: the successful answer to a Call with the same id."""

    message_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallError:
    """`[4, messageId, errorCode, errorDescription, errorDetails]`: a Call could not be handled."""

    message_id: str
    error_code: str
    description: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallResultError:
    """`[5, ...]` (OCPP 2.1 only): the receiver of a CallResult could not process it."""

    message_id: str
    error_code: str
    description: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Send:
    """`[6, messageId, action, payload]` (OCPP 2.1 only): fire-and-forget, never answered."""

    message_id: str
    action: str
    payload: dict[str, Any]


Message = Call | CallResult | CallError | CallResultError | Send
