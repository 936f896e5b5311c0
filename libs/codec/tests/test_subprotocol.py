"""Subprotocol negotiation (2.0.1 Part 4 §3.1.2, §3.2; OCPP-J 1.6 §3.1.2, §3.2)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from sy_codec import OcppVersion, negotiate_subprotocol

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21


@pytest.mark.parametrize(
    ("offered", "supported", "expected"),
    [
        # The server's order wins over the client's (2.0.1 Part 4 §3.1.3 example offers both).
        (["ocpp2.0.1", "ocpp1.6"], [V201, V16], V201),
        (["ocpp2.0.1", "ocpp1.6"], [V16, V201], V16),
        (["ocpp1.6", "ocpp2.0.1"], [V201, V16], V201),
        (["ocpp2.1", "ocpp2.0.1"], [V21, V201, V16], V21),
        (["ocpp2.1", "ocpp2.0.1"], [V201, V16], V201),
        (["ocpp1.6"], [V201, V16], V16),
        # No overlap: no subprotocol, the server closes (2.0.1 Part 4 §3.2).
        (["ocpp1.6"], [V201], None),
        (["ocpp2.0", "ocpp1.5"], [V201, V16], None),
        ([], [V201, V16], None),
        (["ocpp1.6"], [], None),
        # Tokens are compared exactly; the server must echo one of them verbatim.
        (["OCPP1.6"], [V16], None),
        (["ocpp1.6j"], [V16], None),
        # Raw header values, one or several, are split on commas.
        (["ocpp2.0.1, ocpp1.6"], [V16], V16),
        (["ocpp2.0.1,ocpp1.6", "ocpp2.1"], [V21, V16], V21),
        ("ocpp2.0.1, ocpp1.6", [V201], V201),
        ("ocpp1.6", [V201], None),
    ],
)
def test_negotiate(
    offered: Sequence[str], supported: Sequence[OcppVersion], expected: OcppVersion | None
) -> None:
    assert negotiate_subprotocol(offered, supported) is expected


def test_result_value_is_the_subprotocol_to_echo() -> None:
    chosen = negotiate_subprotocol(["ocpp2.0.1"], [V201])
    assert chosen is not None
    assert chosen.value == "ocpp2.0.1"
