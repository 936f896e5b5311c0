"""Envelopes carried on the bus.

Request/reply subjects (`sy.up.*`, `sy.down.*`) carry the OCPP-J frame text itself as the body,
unchanged, with the metadata in NATS headers: no second JSON encoding on the hot path. Stream and
KV records are small JSON documents with a schema version `v`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
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
    # orjson writes dataclasses (nested ones, str enums) itself, the same bytes as
    # `orjson.dumps(asdict(obj))` at a tenth of the cost: asdict deep-copies every field.
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
        return _dumps(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> FrameRecord:
        doc = orjson.loads(data)
        doc["direction"] = _DIRECTIONS.get(doc["direction"]) or FrameDirection(doc["direction"])
        if tuple(doc) == _FRAME_FIELDS:  # as `to_bytes` writes it: positional is twice as fast
            return cls(*doc.values())
        return cls(**doc)


_FRAME_FIELDS = tuple(f.name for f in fields(FrameRecord))
_DIRECTIONS = {d.value: d for d in FrameDirection}


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
        return _dumps(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> Presence:
        return cls(**orjson.loads(data))


@dataclass(frozen=True, slots=True)
class EdgeAlive:
    """An edge replica's heartbeat (`sy.edges.alive.<instance>`, core NATS, every few seconds).

    `started_ns` is when the process started: a heartbeat with a later one under the same
    instance id means the replica restarted, and every charger it announced before that is gone.
    Silence for long enough means the replica is gone with all its chargers (a crash, a lost
    node): it published no "disconnected" for them."""

    instance: str
    started_ns: int
    ts_ns: int
    chargers: int
    v: int = 1

    def to_bytes(self) -> bytes:
        return _dumps(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> EdgeAlive:
        return cls(**orjson.loads(data))


@dataclass(frozen=True, slots=True)
class BackendAuth:
    """How the gateway authenticates toward a backend. Secrets travel by reference only:
    `env:NAME` (an environment variable of the connectors) or `file:/path` (a mounted Secret)."""

    kind: str = "none"  # none | basic | mtls
    username: str | None = None
    password_ref: str | None = None
    cert_ref: str | None = None  # client certificate (PEM) for mtls
    key_ref: str | None = None  # its private key (PEM)
    ca_ref: str | None = None  # CA bundle to verify the backend (wss), default: system CAs


@dataclass(frozen=True, slots=True)
class BackendRef:
    """What the data plane needs to reach a backend, as one route uses it."""

    name: str
    url: str
    ocpp_versions: list[str] = field(default_factory=list)
    # A different URL for some OCPP versions, e.g. {"ocpp2.0.1": "wss://new/ocpp201"}.
    url_by_version: dict[str, str] = field(default_factory=dict)
    auth: BackendAuth = field(default_factory=BackendAuth)
    # ACL: backend-initiated actions this backend may send to the charger on this route.
    # None = every action (a primary's default); [] = none (a shadow's default).
    commands: list[str] | None = None
    connect_rate_per_s: float | None = None  # new upstream connections per second, all chargers
    call_timeout_s: float | None = None  # overrides the connectors' default for this backend

    def url_for(self, ocpp: str) -> str:
        return self.url_by_version.get(ocpp, self.url)

    def may_send(self, action: str) -> bool:
        return self.commands is None or action in self.commands

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> BackendRef:
        doc = dict(doc)
        doc["auth"] = BackendAuth(**(doc.get("auth") or {}))
        return cls(**doc)


@dataclass(frozen=True, slots=True)
class EffectiveRoute:
    """The route the data plane applies to one charger (or to every charger without its own)."""

    primary: BackendRef
    shadows: list[BackendRef] = field(default_factory=list)
    version: int = 0
    v: int = 1

    def to_bytes(self) -> bytes:
        return _dumps(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> EffectiveRoute:
        doc = orjson.loads(data)
        return cls(
            primary=BackendRef.from_doc(doc["primary"]),
            shadows=[BackendRef.from_doc(s) for s in doc.get("shadows", [])],
            version=doc.get("version", 0),
            v=doc.get("v", 1),
        )


@dataclass(slots=True)
class ChargerState:
    """What a new primary needs to see a charger online with the right state (cutover replay):
    the charger's last BootNotification and its latest StatusNotification per connector, as the
    exact CALL frames the charger sent. Kept in the `sy-state` KV bucket by the connectors."""

    charger_id: str
    ocpp: str
    boot: str | None = None
    statuses: dict[str, str] = field(default_factory=dict)  # "<evse>/<connector>" -> frame
    updated_ns: int = 0
    v: int = 1

    def to_bytes(self) -> bytes:
        return _dumps(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> ChargerState:
        return cls(**orjson.loads(data))
