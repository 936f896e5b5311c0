"""Strings a charger sent, made fit for Postgres: NUL escaped.

OCPP-J is JSON, and JSON may carry U+0000 in any string (written `\\u0000`). Postgres `text`
cannot hold that character and `jsonb` refuses the escape, so one such string in an event or a
row would fail the journal's whole batch on every retry. Every NUL a charger sends becomes the
six characters `\\u0000` instead: what the frame's JSON text shows, and no longer a NUL.
"""

from __future__ import annotations

from typing import Any

NUL = "\x00"
NUL_ESCAPED = "\\u0000"  # the six characters of the JSON escape, as plain text


def escape_nul(text: str) -> str:
    return text.replace(NUL, NUL_ESCAPED)


def without_nul(value: Any) -> Any:
    """Decoded JSON with the NUL of every string, keys included, escaped (a copy where needed;
    the caller checks cheaply first that there is one, see `sy_events.correlate.seen`)."""
    if isinstance(value, str):
        return value.replace(NUL, NUL_ESCAPED) if NUL in value else value
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    return value
