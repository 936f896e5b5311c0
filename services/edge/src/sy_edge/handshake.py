"""The charger's opening handshake: where it connects and which OCPP version it speaks."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

# OCPP 2.0.1 Part 4 §3.1.1: the identity is at most 48 characters; ':' separates Basic-auth
# username and password so it cannot be part of the identity.
MAX_CHARGER_ID = 48


def charger_id_from_path(path: str, prefix: str) -> str | None:
    """The charger id from `<prefix>/<id>`, or None when the path is not a charger endpoint."""
    route = urlsplit(path).path
    prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
    if not route.startswith(prefix + "/"):
        return None
    raw = route[len(prefix) + 1 :]
    if not raw or "/" in raw:
        return None
    charger_id = unquote(raw)
    if len(charger_id) > MAX_CHARGER_ID or ":" in charger_id or not charger_id.isprintable():
        return None
    return charger_id
