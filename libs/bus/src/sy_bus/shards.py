"""Who owns which charger shard: the `sy-shards` bucket, read by the edge, written by connectors.

Every charger belongs to one of `subjects.SHARDS` shards (`subjects.shard_of`). A connectors
replica announces itself with a `member.<instance>` entry and leases shards with
`shard.<n>` entries; both carry an expiry (wall-clock milliseconds) that the holder renews well
before it passes. A lease whose expiry passed belongs to nobody, so a replica that died loses its
shards within one lease period, and another replica takes them with a compare-and-set on the
entry's revision (exactly one wins).

`ShardMap` mirrors the bucket from a KV watch. The edge uses it to notice that the replica it
sent a charger CALL to is no longer the shard's owner (and send the CALL again); the connectors'
`ShardKeeper` uses it to decide what to claim and release.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from sy_bus import subjects
from sy_calls import stop_task

log = logging.getLogger(__name__)

MEMBER_PREFIX = "member."
SHARD_PREFIX = "shard."

# Called with a shard number and its previous and new owner ("" = nobody).
OwnerChanged = Callable[[int, str, str], None]


def now_ms() -> int:
    return int(time.time() * 1000)


def shard_key(shard: int) -> str:
    return f"{SHARD_PREFIX}{shard}"


def member_key(instance: str) -> str:
    return MEMBER_PREFIX + subjects.charger_token(instance)


@dataclass(frozen=True, slots=True)
class Lease:
    """A shard lease or a membership: who holds it, and until when (epoch milliseconds)."""

    owner: str
    until_ms: int
    revision: int = 0  # the KV revision it was read at, for compare-and-set

    def valid(self, at_ms: int | None = None) -> bool:
        return bool(self.owner) and self.until_ms > (now_ms() if at_ms is None else at_ms)

    def to_bytes(self) -> bytes:
        return json.dumps({"owner": self.owner, "until_ms": self.until_ms}).encode()

    @classmethod
    def from_bytes(cls, data: bytes, revision: int = 0) -> Lease:
        doc = json.loads(data)
        return cls(str(doc.get("owner", "")), int(doc.get("until_ms", 0)), revision)


class ShardMap:
    """A live mirror of `sy-shards`: leases by shard, members by instance."""

    def __init__(self, kv: KeyValue, on_owner_change: OwnerChanged | None = None) -> None:
        self.kv = kv
        self.leases: dict[int, Lease] = {}
        self.members: dict[str, Lease] = {}
        self._on_owner_change = on_owner_change
        self._loaded = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, timeout_s: float = 10.0) -> None:
        watcher = await self.kv.watchall()
        self._task = asyncio.create_task(self._follow(watcher), name="shard-map")
        await asyncio.wait_for(self._loaded.wait(), timeout_s)

    async def stop(self) -> None:
        await stop_task(self._task)

    def owner(self, shard: int) -> str:
        """The replica whose lease on `shard` has not expired, or ""."""
        lease = self.leases.get(shard)
        return lease.owner if lease is not None and lease.valid() else ""

    def live_members(self) -> list[str]:
        at = now_ms()
        return sorted(m.owner for m in self.members.values() if m.valid(at))

    async def _follow(self, watcher: KeyValue.KeyWatcher) -> None:
        async for entry in watcher:
            if entry is None:  # the initial values have been delivered
                self._loaded.set()
                continue
            try:
                self.apply(entry)
            except Exception:
                log.exception("ignoring unreadable shard entry %r", entry.key)

    def apply(self, entry: KeyValue.Entry) -> None:
        gone = entry.operation in (KV_DEL, KV_PURGE) or not entry.value
        revision = entry.revision or 0
        lease = Lease("", 0, revision) if gone else Lease.from_bytes(entry.value or b"", revision)
        if entry.key.startswith(MEMBER_PREFIX):
            instance = subjects.charger_id_from_token(entry.key[len(MEMBER_PREFIX) :])
            self.members[instance] = Lease(lease.owner or instance, lease.until_ms, revision)
            return
        if not entry.key.startswith(SHARD_PREFIX):
            return
        shard = int(entry.key[len(SHARD_PREFIX) :])
        before = self.leases.get(shard)
        self.leases[shard] = lease
        previous = before.owner if before is not None else ""
        if previous != lease.owner and self._on_owner_change is not None:
            self._on_owner_change(shard, previous, lease.owner)
