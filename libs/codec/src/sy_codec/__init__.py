"""sy_codec: a sans-I/O OCPP-J codec (framing, schema validation, CALLERROR mapping).

Pure functions on strings: no sockets, no asyncio. See README.md for the error-code tables.
"""

from .errors import (
    MAX_DESCRIPTION_LENGTH,
    UNREADABLE_MESSAGE_ID,
    ErrorKind,
    FrameError,
    error_code,
    is_error_code,
)
from .framing import decode, encode, peek_message_type
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
from .schemas import DEFAULT_REGISTRY, CompiledSchema, SchemaKind, SchemaRegistry
from .subprotocol import negotiate_subprotocol
from .validation import known_actions, validate_call, validate_result

__all__ = [
    "DEFAULT_REGISTRY",
    "MAX_DESCRIPTION_LENGTH",
    "MAX_MESSAGE_ID_LENGTH",
    "UNREADABLE_MESSAGE_ID",
    "Call",
    "CallError",
    "CallResult",
    "CallResultError",
    "CompiledSchema",
    "ErrorKind",
    "FrameError",
    "Message",
    "MessageType",
    "OcppVersion",
    "SchemaKind",
    "SchemaRegistry",
    "Send",
    "decode",
    "encode",
    "error_code",
    "is_error_code",
    "known_actions",
    "message_types",
    "negotiate_subprotocol",
    "peek_message_type",
    "validate_call",
    "validate_result",
]
