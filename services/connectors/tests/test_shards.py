"""Shard leases between connectors replicas, against a real NATS KV bucket: one replica takes
every shard, a second one gets half by hand-over, a replica that stops hands its shards back at
once, one that dies loses them when its leases expire, and no shard ever has two servers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nats.js.kv import KeyValue

from sy_bus import subjects
from sy_bus.shards import Lease, shard_key
from sy_connectors.shards import ShardKeeper
from sy_devkit.waiting import eventually

LEASE_S = 0.6


class Replica:
    """A ShardKeeper with callbacks that record what it serves, and fail on double serving."""

    def __init__(self, kv: KeyValue, name: str, serving: dict[int, str]) -> None:
        self.name = name
        self.serving = serving  # shared by every replica of a test: shard -> server
        self.released: list[tuple[int, bool]] = []
        self.keeper = ShardKeeper(kv, name, LEASE_S, self._acquired, self._released)

    async def _acquired(self, shard: int) -> None:
        holder = self.serving.get(shard)
        assert holder is None, f"shard {shard} served by {holder} and {self.name}"
        self.serving[shard] = self.name

    async def _released(self, shard: int, graceful: bool) -> None:
        await asyncio.sleep(0.01)  # CALLs in flight finishing
        assert self.serving.pop(shard, None) == self.name
        self.released.append((shard, graceful))

    def mine(self) -> set[int]:
        return {s for s, name in self.serving.items() if name == self.name}

    def die(self) -> Any:
        """Stop renewing, as a killed process would: nothing is released."""
        return self.keeper.halt()


@pytest.fixture
def kv(fresh_kv: KeyValue) -> KeyValue:
    return fresh_kv


async def test_one_replica_serves_every_shard_and_a_second_gets_half(kv: KeyValue) -> None:
    serving: dict[int, str] = {}
    a = Replica(kv, "a", serving)
    await a.keeper.start()
    assert a.mine() == set(range(subjects.SHARDS))  # claimed before start() returns
    b = Replica(kv, "b", serving)
    await b.keeper.start()
    half = subjects.SHARDS // 2
    await eventually(lambda: len(a.mine()) == half and len(b.mine()) == half)
    assert a.mine().isdisjoint(b.mine())
    assert all(graceful for _, graceful in a.released)  # handed over, not lost
    assert sorted(a.keeper.serving) == sorted(a.mine())
    for shard in b.mine():  # the bucket agrees with who serves
        entry = await kv.get(shard_key(shard))
        assert Lease.from_bytes(entry.value or b"").owner == "b"

    await b.keeper.stop()  # a rolling update: hand everything back
    took = await eventually(lambda: len(a.mine()) == subjects.SHARDS, within_s=5)
    assert took < LEASE_S, f"a stopped replica's shards waited {took:.2f} s for their expiry"
    await a.keeper.stop()
    assert serving == {}


async def test_a_dead_replica_loses_its_shards_when_the_leases_expire(kv: KeyValue) -> None:
    serving: dict[int, str] = {}
    a, b = Replica(kv, "a", serving), Replica(kv, "b", serving)
    await a.keeper.start()
    await b.keeper.start()
    await eventually(lambda: len(b.mine()) == subjects.SHARDS // 2)
    lost = b.mine()
    await b.die()
    for shard in lost:  # the dead replica's shards are still "served" in our ledger: free them
        del serving[shard]  # as the process's death would
    took = await eventually(lambda: len(a.mine()) == subjects.SHARDS, within_s=10)
    assert took >= LEASE_S * 0.5, "taken before the dead replica's leases could have expired"
    assert took < LEASE_S * 4
    await a.keeper.stop()


async def test_a_replica_whose_lease_was_taken_drops_the_shard(kv: KeyValue) -> None:
    serving: dict[int, str] = {}
    a = Replica(kv, "a", serving)
    await a.keeper.start()
    shard = 5
    # Another replica takes shard 5 behind a's back (as if a had been unreachable too long).
    entry = await kv.get(shard_key(shard))
    await kv.update(shard_key(shard), Lease("intruder", 2**62).to_bytes(), last=entry.revision)
    await eventually(lambda: (shard, False) in a.released, within_s=5)
    assert shard not in a.keeper.serving
    await a.keeper.stop()  # a hands over the rest; the intruder keeps shard 5
    assert shard not in serving


async def test_racing_replicas_never_share_a_shard(kv: KeyValue) -> None:
    serving: dict[int, str] = {}
    replicas = [Replica(kv, f"r{i}", serving) for i in range(3)]
    await asyncio.gather(*(r.keeper.start() for r in replicas))  # all claim at once
    await eventually(lambda: len(serving) == subjects.SHARDS)
    # Settled: an even share each (64 = 22 + 21 + 21 at worst 22) and every shard served once.
    await eventually(
        lambda: max(len(r.mine()) for r in replicas) <= 22 and len(serving) == subjects.SHARDS,
        within_s=10,
    )
    assert sum(len(r.mine()) for r in replicas) == subjects.SHARDS
    for r in replicas:
        await r.keeper.stop()
    assert serving == {}
