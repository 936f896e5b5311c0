"""Envelopes carried on the bus.

Request/reply subjects (`sy.up.*`, `sy.down.*`) carry the OCPP-J frame text itself as the body,
unchanged, with the metadata in NATS headers: no second JSON encoding on the hot path. Stream and
KV records are small JSON documents with a schema version `v`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from sy_bus.subjects import FrameDirection


class Header:
    """NATS header names (one spelling each)."""

    CHARGER = "Sy-Charger"
    OCPP = "Sy-Ocpp"
    MESSAGE_ID = "Sy-Msg-Id"
    ACTION = "Sy-Action"
    INSTANCE = "Sy-Instance"
    CONNECTION = "Sy-Conn"
    BACKEND = "Sy-Backend"
    TRACEPARENT = "traceparent"
    DEDUP = "Nats-Msg-Id"


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """One captured frame on one hop. Stored in SY_FRAMES; the journal's raw-frame row."""

    charger_id: str
    direction: FrameDirection
    ts_ns: int
    ocpp: str
    raw: str
    message_type: int | None = None
    message_id: str | None = None
    action: str | None = None
    backend: str | None = None
    instance: str = ""
    connection_id: str = ""
    # When quirk rules rewrote the frame: the frame as forwarded, and the rules applied.
    # `raw` always stays what was received on the wire.
    normalized: str | None = None
    rules: list[str] = field(default_factory=list)
    v: int = 1

    def to_bytes(self) -> bytes:
        return _dumps(asdict(self))

    @classmethod
    def from_bytes(cls, data: bytes) -> FrameRecord:
        doc = orjson.loads(data)
        doc["direction"] = FrameDirection(doc["direction"])
        return cls(**doc)


@dataclass(frozen=True, slots=True)
class Presence:
    """A charger's WebSocket opened or closed on an edge replica."""

    charger_id: str
    connected: bool
    instance: str
    connection_id: str
    ocpp: str
    ts_ns: int
    reason: str = ""
    v: int = 1

    def to_bytes(self) -> bytes:
        return _dumps(asdict(self))

    @classmethod
    def from_bytes(cls, data: bytes) -> Presence:
        return cls(**orjson.loads(data))


@dataclass(frozen=True, slots=True)
class BackendRef:
    """What the data plane needs to reach a backend."""

    name: str
    url: str
    ocpp_versions: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class EffectiveRoute:
    """The route the data plane applies to one charger (or to every charger without its own)."""

    primary: BackendRef
    shadows: list[BackendRef] = field(default_factory=list)
    version: int = 0
    v: int = 1

    def to_bytes(self) -> bytes:
        return _dumps(asdict(self))

    @classmethod
    def from_bytes(cls, data: bytes) -> EffectiveRoute:
        doc = orjson.loads(data)
        return cls(
            primary=BackendRef(**doc["primary"]),
            shadows=[BackendRef(**s) for s in doc.get("shadows", [])],
            version=doc.get("version", 0),
            v=doc.get("v", 1),
        )
