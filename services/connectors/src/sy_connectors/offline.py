"""Answering a charger while its primary backend is down (sans-I/O).

Transaction CALLs are stored for ordered delivery first (invariant 1), then answered here; the
rest of what keeps a charger charging (Heartbeat, StatusNotification, MeterValues, Authorize) is
answered from local knowledge: the clock, and a cache of the backend's recent authorization
decisions. Anything else waits for the backend.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from typing import Any

from sy_codec import Call, OcppVersion

STORED_V16 = frozenset({"StartTransaction", "StopTransaction", "MeterValues"})
STORED_V201 = frozenset({"TransactionEvent", "MeterValues"})
LOCAL = frozenset({"Heartbeat", "StatusNotification", "Authorize"})
# Local 1.6 transaction ids: far above what backends hand out, replaced by the backend's own id
# once the stored start is delivered (the charger keeps using the local one).
LOCAL_TX_BASE = 1_900_000_000
_local_ids = itertools.count(int(time.time()) % 50_000_000)


def stored(call: Call, version: OcppVersion) -> bool:
    return call.action in (STORED_V16 if version is OcppVersion.V16 else STORED_V201)


def answerable_offline(call: Call, version: OcppVersion) -> bool:
    return stored(call, version) or call.action in LOCAL


def local_transaction_id() -> int:
    return LOCAL_TX_BASE + next(_local_ids)


class AuthorizationCache:
    """The primary's recent answers per id token, to authorize offline."""

    def __init__(self, ttl_s: float, unknown_status: str) -> None:
        self.ttl_s = ttl_s
        self.unknown_status = unknown_status
        self._seen: dict[str, tuple[float, dict[str, Any]]] = {}

    def remember(self, token: str, info: dict[str, Any]) -> None:
        self._seen[token] = (time.monotonic() + self.ttl_s, info)

    def decide(self, token: str | None) -> dict[str, Any]:
        if token is not None:
            hit = self._seen.get(token)
            if hit is not None and hit[0] > time.monotonic():
                return dict(hit[1])
        return {"status": self.unknown_status}


def token_of(call: Call, version: OcppVersion) -> str | None:
    if version is OcppVersion.V16:
        tag = call.payload.get("idTag")
        return str(tag) if tag is not None else None
    token = call.payload.get("idToken")
    return str(token.get("idToken")) if isinstance(token, dict) else None


def info_of(result: dict[str, Any], version: OcppVersion) -> dict[str, Any] | None:
    key = "idTagInfo" if version is OcppVersion.V16 else "idTokenInfo"
    info = result.get(key)
    return info if isinstance(info, dict) else None


def local_answer(
    call: Call, version: OcppVersion, cache: AuthorizationCache, transaction_id: int | None
) -> dict[str, Any]:
    """The payload the gateway answers with while the backend is down."""
    token = token_of(call, version)
    info_key = "idTagInfo" if version is OcppVersion.V16 else "idTokenInfo"
    if call.action == "Heartbeat":
        return {"currentTime": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
    if call.action == "Authorize":
        return {info_key: cache.decide(token)}
    if call.action == "StartTransaction":
        return {"transactionId": transaction_id, "idTagInfo": cache.decide(token)}
    if token is not None and call.action in ("StopTransaction", "TransactionEvent"):
        return {info_key: cache.decide(token)}
    return {}
