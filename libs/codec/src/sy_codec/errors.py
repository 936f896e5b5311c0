"""RPC framework error codes and the exception every codec failure is reported with.

`ErrorKind` names the reason once; `error_code` spells it the way each version's table does:
OCPP-J 1.6 §4.2.3 Table 7 and 2.0.1 Part 4 §4.3 Table 8. 2.1 is given the 2.0.1 table unchanged.

1.6 keeps two misspelled codes, FormationViolation and OccurenceConstraintViolation; the OCPP-J 1.6
errata §5.1 and §5.2 list them as known issues that must not be fixed, so 1.6 peers get the typos.

Two kinds have no 1.6 code and borrow the closest one:

* MESSAGE_TYPE_NOT_SUPPORTED -> NotSupported. 1.6 only says to ignore the payload of an unknown
  message type (OCPP-J 1.6 §4.1.3). NotSupported is the code whose meaning (the receiver does
  not support what it got) and name are nearest to 2.0.1's MessageTypeNotSupported;
  NotImplemented would wrongly claim an *action* is unknown.
* RPC_FRAMEWORK -> FormationViolation. 1.6 describes FormationViolation as a message that is
  syntactically incorrect or does not conform to the PDU structure, which is what an unreadable
  frame is; 2.0.1 split that meaning into FormatViolation, ProtocolError and RpcFrameworkError.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from .messages import MAX_MESSAGE_ID_LENGTH, CallError, OcppVersion

# 2.0.1 Part 4 §4.2.3: the id to answer with when the offending frame's id cannot be read.
UNREADABLE_MESSAGE_ID = "-1"
# 2.0.1 Part 4 §4.2.3 Table 7: ErrorDescription is string[255].
MAX_DESCRIPTION_LENGTH = 255


class ErrorKind(Enum):
    """Why a frame was rejected, independent of how a given OCPP version spells it."""

    FORMAT = "format"
    GENERIC = "generic"
    INTERNAL = "internal"
    MESSAGE_TYPE_NOT_SUPPORTED = "message_type_not_supported"
    NOT_IMPLEMENTED = "not_implemented"
    NOT_SUPPORTED = "not_supported"
    OCCURRENCE_CONSTRAINT = "occurrence_constraint"
    PROPERTY_CONSTRAINT = "property_constraint"
    PROTOCOL = "protocol"
    RPC_FRAMEWORK = "rpc_framework"
    SECURITY = "security"
    TYPE_CONSTRAINT = "type_constraint"


_CODES_16: dict[ErrorKind, str] = {
    ErrorKind.FORMAT: "FormationViolation",
    ErrorKind.GENERIC: "GenericError",
    ErrorKind.INTERNAL: "InternalError",
    ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED: "NotSupported",
    ErrorKind.NOT_IMPLEMENTED: "NotImplemented",
    ErrorKind.NOT_SUPPORTED: "NotSupported",
    ErrorKind.OCCURRENCE_CONSTRAINT: "OccurenceConstraintViolation",
    ErrorKind.PROPERTY_CONSTRAINT: "PropertyConstraintViolation",
    ErrorKind.PROTOCOL: "ProtocolError",
    ErrorKind.RPC_FRAMEWORK: "FormationViolation",
    ErrorKind.SECURITY: "SecurityError",
    ErrorKind.TYPE_CONSTRAINT: "TypeConstraintViolation",
}

_CODES_2X: dict[ErrorKind, str] = {
    ErrorKind.FORMAT: "FormatViolation",
    ErrorKind.GENERIC: "GenericError",
    ErrorKind.INTERNAL: "InternalError",
    ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED: "MessageTypeNotSupported",
    ErrorKind.NOT_IMPLEMENTED: "NotImplemented",
    ErrorKind.NOT_SUPPORTED: "NotSupported",
    ErrorKind.OCCURRENCE_CONSTRAINT: "OccurrenceConstraintViolation",
    ErrorKind.PROPERTY_CONSTRAINT: "PropertyConstraintViolation",
    ErrorKind.PROTOCOL: "ProtocolError",
    ErrorKind.RPC_FRAMEWORK: "RpcFrameworkError",
    ErrorKind.SECURITY: "SecurityError",
    ErrorKind.TYPE_CONSTRAINT: "TypeConstraintViolation",
}

_CODES: dict[OcppVersion, dict[ErrorKind, str]] = {
    OcppVersion.V16: _CODES_16,
    OcppVersion.V201: _CODES_2X,
    OcppVersion.V21: _CODES_2X,
}
_VALID_CODES: dict[OcppVersion, frozenset[str]] = {
    version: frozenset(codes.values()) for version, codes in _CODES.items()
}


def error_code(kind: ErrorKind, version: OcppVersion) -> str:
    """The errorCode string `version` uses for `kind`."""
    return _CODES[version][kind]


def is_error_code(code: str, version: OcppVersion) -> bool:
    """Whether `code` is in `version`'s error code table (exact, case-sensitive spelling)."""
    return code in _VALID_CODES[version]


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, marking the cut so logs don't mislead."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


class FrameError(Exception):
    """A frame that cannot be accepted, with what is needed to answer (or not answer) it.

    `answerable` is True when the frame was, or might have been, a CALL, so the receiver owes the
    sender a CALLERROR. It is False for broken CALLRESULT / CALLERROR / CALLRESULTERROR / SEND
    frames, which are never answered: the receiver logs and drops them.
    """

    kind: ErrorKind
    message_id: str | None
    description: str
    answerable: bool

    def __init__(
        self,
        kind: ErrorKind,
        description: str,
        *,
        message_id: str | None = None,
        answerable: bool = True,
    ) -> None:
        super().__init__(description)
        self.kind = kind
        self.description = description
        self.message_id = message_id
        self.answerable = answerable

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields would be lost by Exception's default pickling (e.g. process pools).
        state = {"message_id": self.message_id, "answerable": self.answerable}
        return (FrameError, (self.kind, self.description), state)

    def __repr__(self) -> str:
        return (
            f"FrameError(kind={self.kind.name}, message_id={self.message_id!r}, "
            f"answerable={self.answerable}, description={self.description!r})"
        )

    def to_call_error(self, version: OcppVersion) -> CallError:
        """The CALLERROR that answers the offending frame on a `version` connection."""
        message_id = self.message_id
        # An id we could not read (or that is itself invalid) must not be echoed back.
        if message_id is None or len(message_id) > MAX_MESSAGE_ID_LENGTH:
            message_id = UNREADABLE_MESSAGE_ID
        return CallError(
            message_id=message_id,
            error_code=error_code(self.kind, version),
            description=truncate(self.description, MAX_DESCRIPTION_LENGTH),
        )
