"""This replica's share of the chargers: shard leases claimed, renewed and handed over.

Each live replica aims at `ceil(SHARDS / live replicas)` shards. Below that it claims shards
whose lease expired or was released (its preferred ones first, by a rendezvous score, so
replicas rarely race for the same shard); above it, e.g. when a replica joined, it hands the
surplus over gracefully: stop taking the shard's CALLs, let the CALLs in flight finish, close the
shard's upstreams, then release the lease. A replica that stops renewing (killed, partitioned)
loses its leases when they expire and the others take its shards.

A lease is renewed with a compare-and-set on the revision this replica wrote last: if another
replica took the shard meanwhile (this one was considered dead), the renewal fails and this
replica drops the shard at once. If renewals cannot reach NATS at all, the replica drops its
shards when its own lease expires, before anyone else may take them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import zlib
from collections.abc import Awaitable, Callable

from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from sy_bus import subjects
from sy_bus.shards import Lease, ShardMap, member_key, now_ms, shard_key
from sy_calls import stop_task
from sy_connectors import metrics

log = logging.getLogger(__name__)

# Called when this replica starts (acquired) or stops (released) serving a shard. `graceful`
# is False when the shard was lost rather than handed over.
ShardStarted = Callable[[int], Awaitable[None]]
ShardStopped = Callable[[int, bool], Awaitable[None]]


class ShardKeeper:
    def __init__(
        self,
        kv: KeyValue,
        instance: str,
        lease_s: float,
        on_acquired: ShardStarted,
        on_released: ShardStopped,
        shards: int = subjects.SHARDS,
    ) -> None:
        self.instance = instance
        self.lease_ms = int(lease_s * 1000)
        self.tick_s = lease_s / 3
        self.shards = shards
        self.map = ShardMap(kv, self._owner_changed)
        self._kv = kv
        self._on_acquired = on_acquired
        self._on_released = on_released
        self.held: dict[int, int] = {}  # shard -> revision of our last write
        self._held_until: dict[int, int] = {}
        self.leaving: set[int] = set()  # handed over once their CALLs in flight are done
        self._handovers: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._kick = asyncio.Event()
        self._renewing_task: asyncio.Task[None] | None = None
        self._balancing_task: asyncio.Task[None] | None = None

    # -- life cycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.map.start()
        await self._announce()
        await self.tick()  # the first claims happen before the replica reports ready
        # Renewals run on their own, so a slow hand-over or claim never lets a lease lapse.
        self._renewing_task = asyncio.create_task(self._renewing(), name="shard-leases")
        self._balancing_task = asyncio.create_task(self._balancing(), name="shard-balance")

    async def stop(self) -> None:
        """Hand every shard over (CALLs in flight finish first, leases kept renewed meanwhile)
        and leave the membership."""
        self._stopping = True
        self._kick.set()
        if self._balancing_task is not None:  # a claim in progress finishes, and is handed over
            await asyncio.wait({self._balancing_task}, timeout=self.tick_s * 3 + 5)
        for shard in sorted(set(self.held) - self.leaving):
            self._hand_over(shard)
        if self._handovers:
            await asyncio.wait(self._handovers)
        await self.halt()
        try:
            await self._kv.delete(member_key(self.instance))
        except Exception as exc:
            log.warning("could not remove this replica's membership: %r", exc)
        await self.map.stop()

    async def halt(self) -> None:
        """Stop renewing and balancing, releasing nothing (what a killed replica does)."""
        await stop_task(self._balancing_task)
        await stop_task(self._renewing_task)
        self._balancing_task = self._renewing_task = None

    def target(self) -> int:
        live = set(self.map.live_members()) | {self.instance}
        return math.ceil(self.shards / len(live))

    @property
    def serving(self) -> list[int]:
        return sorted(set(self.held) - self.leaving)

    # -- the loop ---------------------------------------------------------------------------------

    async def _renewing(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                await self._announce()
                await self._renew()
            except Exception:
                log.exception("renewing shard leases failed this round; retrying")

    async def _balancing(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), self.tick_s)
            self._kick.clear()
            try:
                await self.balance()
            except Exception:
                log.exception("balancing shards failed this round; retrying")

    async def tick(self) -> None:
        await self._announce()
        await self._renew()
        await self.balance()

    async def balance(self) -> None:
        """Hand the surplus over, or claim free shards up to this replica's share."""
        if self._stopping:
            return
        active = self.serving
        surplus = len(active) - self.target()
        if surplus > 0:
            for shard in sorted(active, key=self._preference)[:surplus]:
                self._hand_over(shard)
        elif surplus < 0 and not self.leaving:
            await self._claim(-surplus)
        metrics.SHARDS.set(len(self.serving))

    def _preference(self, shard: int) -> int:
        """Rendezvous score: replicas prefer different shards, and the same ones each time."""
        return zlib.crc32(f"{self.instance}/{shard}".encode())

    def _owner_changed(self, shard: int, previous: str, owner: str) -> None:
        if not owner or (previous == self.instance and owner != self.instance):
            self._kick.set()  # a shard came free, or was taken from us: act now, not next tick

    # -- membership and leases ---------------------------------------------------------------------

    def _lease(self) -> bytes:
        return Lease(self.instance, now_ms() + self.lease_ms).to_bytes()

    async def _announce(self) -> None:
        try:
            await self._kv.put(member_key(self.instance), self._lease())
        except Exception as exc:
            log.warning("could not renew this replica's membership: %r", exc)

    async def _renew(self) -> None:
        await asyncio.gather(*(self._renew_one(shard) for shard in list(self.held)))

    async def _renew_one(self, shard: int) -> None:
        revision = self.held.get(shard)
        if revision is None:
            return
        until = now_ms() + self.lease_ms
        try:
            revision = await self._kv.update(
                shard_key(shard), Lease(self.instance, until).to_bytes(), last=revision
            )
        except KeyWrongLastSequenceError:
            if self.held.get(shard) != revision or shard in self.leaving:
                return  # we released it meanwhile: that write moved the revision
            log.warning("shard %d was taken over by another replica", shard)
            await self._drop(shard, graceful=False)
            return
        except Exception as exc:
            # Stop serving before anyone may take the shard: a tick before the lease expires.
            if now_ms() >= self._held_until.get(shard, 0) - int(self.tick_s * 1000):
                log.warning("lease on shard %d not renewable (%r); dropping it", shard, exc)
                await self._drop(shard, graceful=False)
            return
        if shard in self.held:
            self.held[shard] = revision
            self._held_until[shard] = until

    async def _claim(self, wanted: int) -> None:
        at = now_ms()
        free = [
            shard
            for shard in range(self.shards)
            if shard not in self.held and not self.map.leases.get(shard, Lease("", 0)).valid(at)
        ]
        preferred = sorted(free, key=self._preference, reverse=True)[:wanted]
        await asyncio.gather(*(self._take(shard) for shard in preferred))

    async def _take(self, shard: int) -> bool:
        current = self.map.leases.get(shard)
        until = now_ms() + self.lease_ms
        value = Lease(self.instance, until).to_bytes()
        try:
            if current is None:
                revision = await self._kv.create(shard_key(shard), value)
            else:
                revision = await self._kv.update(shard_key(shard), value, last=current.revision)
        except KeyWrongLastSequenceError:
            return False  # another replica was faster, or our mirror is a step behind
        except Exception as exc:
            log.warning("could not claim shard %d: %r", shard, exc)
            return False
        self.held[shard] = revision
        self._held_until[shard] = until
        log.info("serving shard %d", shard)
        try:
            await self._on_acquired(shard)
        except Exception:
            log.exception("starting shard %d failed; handing it back", shard)
            self._hand_over(shard)
            return False
        return True

    def _hand_over(self, shard: int) -> None:
        self.leaving.add(shard)
        task = asyncio.create_task(self._release(shard), name=f"hand-over:{shard}")
        self._handovers.add(task)
        task.add_done_callback(self._handovers.discard)

    async def _release(self, shard: int) -> None:
        """Stop serving `shard` gracefully, then free its lease (renewed until then)."""
        try:
            await self._on_released(shard, True)
        except Exception:
            log.exception("stopping shard %d failed", shard)
        self.leaving.discard(shard)
        revision = self.held.pop(shard, None)
        self._held_until.pop(shard, None)
        if revision is None:
            return  # lost meanwhile
        await self._free(shard, revision)
        self._kick.set()

    async def _free(self, shard: int, revision: int) -> None:
        for _ in range(3):
            try:
                await self._kv.update(shard_key(shard), Lease("", 0).to_bytes(), last=revision)
                log.info("handed shard %d over", shard)
                return
            except KeyWrongLastSequenceError:  # a renewal of ours landed in between?
                try:
                    entry = await self._kv.get(shard_key(shard))
                    lease = Lease.from_bytes(entry.value or b"", entry.revision or 0)
                except Exception:
                    return
                if lease.owner != self.instance:
                    return  # another replica has it already
                revision = lease.revision
            except Exception as exc:  # NATS unreachable: the lease expires anyway
                log.warning("could not release shard %d: %r", shard, exc)
                return

    async def _drop(self, shard: int, graceful: bool) -> None:
        if self.held.pop(shard, None) is None:
            return  # handed over or dropped already
        self._held_until.pop(shard, None)
        if shard in self.leaving:
            return  # its hand-over is stopping it already
        try:
            await self._on_released(shard, graceful)
        except Exception:
            log.exception("stopping shard %d failed", shard)
