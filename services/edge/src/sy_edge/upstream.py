"""Charger CALLs to the connectors replica that owns the charger, surviving a change of owner.

Each charger belongs to a shard (`sy_bus.subjects.shard_of`) that exactly one connectors replica
leases; its CALLs go to `sy.up.<shard>.<charger>`. While nobody serves the shard (a hand-over
between replicas, or the owner died and its lease has not expired yet) NATS answers "no
responders" at once: the CALL is sent again, with a short backoff, until a replica takes the
shard or the charger's CALL timeout passes. When another replica takes the shard over from the
one a CALL was sent to while the CALL waits for its answer (that replica was killed: a graceful
hand-over frees the lease only after its CALLs are answered), the CALL is sent to the new owner:
the backend may then see it twice, never zero times.
"""

from __future__ import annotations

import asyncio
import logging

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.kv import KeyValue

from sy_bus import subjects
from sy_bus.shards import ShardMap
from sy_edge import metrics

log = logging.getLogger(__name__)

FIRST_PAUSE_S = 0.05
LONGEST_PAUSE_S = 0.5


class UpstreamCalls:
    def __init__(self, nc: Client, shards_kv: KeyValue) -> None:
        self._nc = nc
        self.map = ShardMap(shards_kv, self._owner_changed)
        # Per shard: resolved with the previous owner when another replica takes the shard over.
        self._moved: dict[int, asyncio.Future[str]] = {}

    async def start(self) -> None:
        await self.map.start()

    async def stop(self) -> None:
        await self.map.stop()
        for signal in self._moved.values():
            signal.cancel()
        self._moved.clear()

    def _owner_changed(self, shard: int, previous: str, owner: str) -> None:
        if not previous or not owner:
            return  # released after its CALLs were answered, or a free shard claimed
        signal = self._moved.pop(shard, None)
        if signal is not None and not signal.done():
            signal.set_result(previous)

    def _holder(self, shard: int) -> str:
        lease = self.map.leases.get(shard)
        return lease.owner if lease is not None else ""

    def _moved_signal(self, shard: int) -> asyncio.Future[str]:
        signal = self._moved.get(shard)
        if signal is None or signal.done():
            signal = self._moved[shard] = asyncio.get_running_loop().create_future()
        return signal

    async def request(
        self, charger_id: str, data: bytes, headers: dict[str, str], timeout_s: float
    ) -> bytes:
        """The answer frame from the shard's owner. Raises NoRespondersError when no replica
        took the shard within `timeout_s`, and nats' TimeoutError when nobody answered."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        subject = subjects.up(charger_id)
        shard = subjects.shard_of(charger_id)
        pause = FIRST_PAUSE_S
        unserved = False
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise NoRespondersError if unserved else NatsTimeout
            sent_to = self._holder(shard)
            answer = asyncio.ensure_future(
                self._nc.request(subject, data, timeout=remaining, headers=headers)
            )
            while not answer.done():
                moved = self._moved_signal(shard)
                await asyncio.wait((answer, moved), return_when=asyncio.FIRST_COMPLETED)
                if answer.done() or moved.result() != sent_to:
                    continue  # not the replica this CALL went to: keep waiting
                answer.cancel()
                await asyncio.gather(answer, return_exceptions=True)
                metrics.CALLS_RESENT.inc()
                log.warning(
                    "connectors replica %s lost shard %d while a CALL waited; sending it again",
                    sent_to,
                    shard,
                    extra={"charger_id": charger_id},
                )
                break
            if answer.cancelled():
                continue
            try:
                return answer.result().data
            except NoRespondersError:
                unserved = True
                await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))
                pause = min(pause * 2, LONGEST_PAUSE_S)
