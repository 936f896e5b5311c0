"""What a charger's up lane works on, besides the charger's own CALLs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nats.aio.msg import Msg

from sy_codec import CallResult, OcppVersion, decode

if TYPE_CHECKING:
    from sy_connectors.upstream import Upstream


@dataclass(frozen=True)
class Replay:
    """Replay the charger's boot and statuses to a new primary before its next CALL."""

    upstream: Upstream
    statuses_only: bool = False


@dataclass(frozen=True)
class Drain:
    """Deliver what was stored for a backend while it was down, before newer CALLs."""

    backend: str


Work = Msg | Replay | Drain


def result_payload(answer: str, version: OcppVersion) -> dict[str, Any] | None:
    """The CALLRESULT payload of an answer, or None for a CALLERROR / unreadable answer."""
    try:
        decoded = decode(answer, version)
    except Exception:
        return None
    return decoded.payload if isinstance(decoded, CallResult) else None
