"""Charger CALLs to the connectors replica that owns the charger, surviving a change of owner.

Each charger belongs to a shard (`sy_bus.subjects.shard_of`) that exactly one connectors replica
leases; its CALLs go to `sy.up.<shard>.<charger>`. While nobody serves the shard (a hand-over
between replicas, or the owner died and its lease has not expired yet) NATS answers "no
responders" at once: the CALL is sent again, with a short backoff, until a replica takes the
shard or the charger's CALL timeout passes. When another replica takes the shard over from the
one a CALL was sent to while the CALL waits for its answer (that replica was killed: a graceful
hand-over frees the lease only after its CALLs are answered), the CALL is sent to the new owner:
the backend may then see it twice, never zero times.

Per CALL: one future (`sy_bus.requests.Requests`, resolved by the reply or its timeout) and an
entry in its shard's in-flight table; when the shard changes hands, `_owner_changed` fails the
futures of the CALLs that were sent to the previous owner with `_Moved`, and each is sent again.
"""

from __future__ import annotations

import asyncio
import logging

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.kv import KeyValue

from sy_bus import subjects
from sy_bus.requests import Requests
from sy_bus.shards import ShardMap
from sy_edge import metrics

log = logging.getLogger(__name__)

FIRST_PAUSE_S = 0.05
LONGEST_PAUSE_S = 0.5


class _Moved(Exception):
    """The replica a CALL was sent to lost the CALL's shard before answering."""


class UpstreamCalls:
    def __init__(self, nc: Client, shards_kv: KeyValue) -> None:
        self._requests = Requests(nc)
        self.map = ShardMap(shards_kv, self._owner_changed)
        # Per shard: the CALLs waiting for their answer -> the replica each was sent to.
        self._in_flight: list[dict[asyncio.Future[Msg], str]] = [{} for _ in range(subjects.SHARDS)]

    async def start(self) -> None:
        await self._requests.start()
        await self.map.start()

    async def stop(self) -> None:
        await self.map.stop()
        await self._requests.stop()

    def _owner_changed(self, shard: int, previous: str, owner: str) -> None:
        if not previous or not owner:
            return  # released after its CALLs were answered, or a free shard claimed
        for answer, sent_to in self._in_flight[shard].items():
            if sent_to == previous and not answer.done():
                answer.set_exception(_Moved())

    def _holder(self, shard: int) -> str:
        lease = self.map.leases.get(shard)
        return lease.owner if lease is not None else ""

    async def request(
        self, charger_id: str, data: bytes, headers: dict[str, str], timeout_s: float
    ) -> bytes:
        """The answer frame from the shard's owner. Raises NoRespondersError when no replica
        took the shard within `timeout_s`, and nats' TimeoutError when nobody answered."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        subject = subjects.up(charger_id)
        shard = subjects.shard_of(charger_id)
        in_flight = self._in_flight[shard]
        pause = FIRST_PAUSE_S
        unserved = False
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise NoRespondersError if unserved else NatsTimeout
            sent_to = self._holder(shard)
            answer: asyncio.Future[Msg] = loop.create_future()
            in_flight[answer] = sent_to  # before sending: a move from now on resends it
            try:
                await self._requests.send(subject, data, answer, remaining, headers)
                return (await answer).data
            except _Moved:
                metrics.CALLS_RESENT.inc()
                log.warning(
                    "connectors replica %s lost shard %d while a CALL waited; sending it again",
                    sent_to,
                    shard,
                    extra={"charger_id": charger_id},
                )
                continue  # at once, to the new owner
            except NoRespondersError:
                unserved = True
            finally:
                del in_flight[answer]
            await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))
            pause = min(pause * 2, LONGEST_PAUSE_S)
