"""WebSocket subprotocol negotiation (OCPP-J 1.6 §3.1.2 and §3.2, 2.0.1 Part 4 §3.1.2 and §3.2)."""

from __future__ import annotations

from collections.abc import Sequence

from .messages import OcppVersion


def negotiate_subprotocol(
    offered: Sequence[str], supported: Sequence[OcppVersion]
) -> OcppVersion | None:
    """The first of `supported` (server preference order) that the client offered, else None.

    `offered` may hold raw Sec-WebSocket-Protocol header values ("ocpp2.0.1, ocpp1.6"); a single
    string is treated as one such value. Matching is exact: the server must echo one of the
    client's tokens verbatim (RFC 6455 §4.1), so "OCPP1.6" does not match "ocpp1.6".
    On None the server completes the handshake without a subprotocol and closes (OCPP-J 1.6
    §3.2, 2.0.1 Part 4 §3.2).
    """
    values = [offered] if isinstance(offered, str) else offered
    tokens = {token.strip() for value in values for token in value.split(",")}
    for version in supported:
        if version.value in tokens:
            return version
    return None
