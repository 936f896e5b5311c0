"""Every NATS subject Switchyard uses, spelled in exactly one place.

Charger ids come from the WebSocket URL and may hold characters that NATS subjects and KV keys
reject ('.', '*', '>', spaces, ...). `charger_token` maps any id to a token that is valid in both,
and keeps plain ids readable so `nats sub 'sy.frames.CP001.>'` works as an operator expects.
"""

from __future__ import annotations

import base64
import re
import zlib
from enum import StrEnum

PREFIX = "sy"
_PLAIN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# '=' cannot start a plain token, so encoded and plain tokens never collide.
_ENCODED_MARK = "="


class FrameDirection(StrEnum):
    """Which hop a captured frame crossed, seen from the gateway."""

    FROM_CHARGER = "from_charger"
    TO_CHARGER = "to_charger"
    TO_BACKEND = "to_backend"
    FROM_BACKEND = "from_backend"


def charger_token(charger_id: str) -> str:
    """A subject token / KV key for a charger id: the id itself when it is plain, else encoded."""
    if _PLAIN.match(charger_id):
        return charger_id
    raw = base64.urlsafe_b64encode(charger_id.encode()).decode().rstrip("=")
    return _ENCODED_MARK + raw


def charger_id_from_token(token: str) -> str:
    """Inverse of `charger_token`."""
    if not token.startswith(_ENCODED_MARK):
        return token
    raw = token[1:]
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()


# Charger ownership among connector replicas: every charger belongs to one of `SHARDS` fixed
# shards; each shard is leased by exactly one connectors replica, which alone subscribes to its
# `sy.up.<shard>.*`. Changing the count re-homes every charger: it is part of the bus contract.
SHARDS = 64


def shard_of(charger_id: str) -> int:
    """The shard a charger belongs to (stable across processes, versions and machines)."""
    return zlib.crc32(charger_id.encode()) % SHARDS


def up(charger_id: str) -> str:
    """Charger-originated CALL, edge -> the connectors replica owning the charger's shard."""
    return f"{PREFIX}.up.{shard_of(charger_id)}.{charger_token(charger_id)}"


def up_shard(shard: int) -> str:
    """Every charger CALL of one shard: what the replica leasing it subscribes to."""
    return f"{PREFIX}.up.{shard}.*"


def down(charger_id: str) -> str:
    """Backend-originated CALL, connectors -> the edge holding the charger, request/reply."""
    return f"{PREFIX}.down.{charger_token(charger_id)}"


def control(charger_id: str) -> str:
    """Control messages for one charger (takeover, disconnect)."""
    return f"{PREFIX}.ctl.{charger_token(charger_id)}"


def presence(charger_id: str) -> str:
    """A charger connected to or disconnected from an edge replica."""
    return f"{PREFIX}.presence.{charger_token(charger_id)}"


def edge_alive(instance: str) -> str:
    """An edge replica's heartbeat: it is up, since when (a restart under the same id shows)."""
    return f"{PREFIX}.edges.alive.{charger_token(instance)}"


def frames(charger_id: str, direction: FrameDirection) -> str:
    """Captured frame, one hop, stored in the SY_FRAMES stream."""
    return f"{PREFIX}.frames.{charger_token(charger_id)}.{direction.value}"


def events(event_type: str, charger_id: str) -> str:
    """Canonical domain event, stored in the SY_EVENTS stream."""
    return f"{PREFIX}.events.{event_type}.{charger_token(charger_id)}"


def audit(service: str) -> str:
    """Audit record of a mutating admin API call on `service`, stored in SY_AUDIT."""
    return f"{PREFIX}.audit.{service}"


def outbox(backend: str, charger_id: str) -> str:
    """A charger CALL stored for a backend that is down, delivered in order when it is back."""
    return f"{PREFIX}.outbox.{backend}.{charger_token(charger_id)}"


def outbox_of(backend: str) -> str:
    return f"{PREFIX}.outbox.{backend}.>"


def token_of(subject: str, position: int = 2) -> str:
    """The charger token at `position` of a subject such as sy.down.<token>."""
    return subject.split(".")[position]


UP_ALL = f"{PREFIX}.up.>"
PRESENCE_ALL = f"{PREFIX}.presence.*"
EDGES_ALIVE_ALL = f"{PREFIX}.edges.alive.*"
FRAMES_ALL = f"{PREFIX}.frames.>"
EVENTS_ALL = f"{PREFIX}.events.>"
AUDIT_ALL = f"{PREFIX}.audit.>"
OUTBOX_ALL = f"{PREFIX}.outbox.>"
