"""Message ids rewritten between what the charger used and what a backend sees (invariant 3).

Backend CALLs reach the charger under gateway ids, so CALLs of several backends never collide on
the charger's socket. Charger CALLs keep the charger's own id upstream, except on an upstream
that outlived the charger's socket (the charger came back on a new one, e.g. after an edge
restart): the charger's ids start afresh there and may repeat ones that upstream already
carried, so they go up under gateway ids until that upstream is renewed.
"""

from __future__ import annotations

import itertools
import secrets

from sy_codec import Call, CallError, CallResult, ErrorKind, OcppVersion, decode, encode, error_code

_counter = itertools.count(1)


def gateway_message_id() -> str:
    """Unique for the whole life of this process, whichever charger or backend (≤ 36 chars)."""
    return f"sy{next(_counter):x}{secrets.token_hex(4)}"


def readdressed_call(frame: str, version: OcppVersion) -> tuple[str, str]:
    """The CALL frame under a new gateway id: (that id, the frame)."""
    call = decode(frame, version)
    if not isinstance(call, Call):
        raise ValueError("only a CALL can be readdressed")
    new_id = gateway_message_id()
    return new_id, encode(Call(new_id, call.action, call.payload))


def readdressed_answer(answer: str, message_id: str, version: OcppVersion) -> str:
    """An answer (CALLRESULT or CALLERROR) addressed to `message_id` instead."""
    try:
        decoded = decode(answer, version)
    except Exception:
        decoded = None
    if isinstance(decoded, CallResult):
        return encode(CallResult(message_id, decoded.payload))
    if isinstance(decoded, CallError):
        return encode(
            CallError(message_id, decoded.error_code, decoded.description, decoded.details)
        )
    code = error_code(ErrorKind.INTERNAL, version)
    return encode(CallError(message_id, code, "unreadable answer from the peer", {}))
