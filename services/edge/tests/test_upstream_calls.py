"""Charger CALLs to the connectors replica owning the charger's shard (`sy_edge.upstream`),
against a real nats-server, a real shard bucket and "replicas" that are connections of the
connectors' NATS user: a CALL waits for a replica to take the shard, gives up with "no
responders" or a timeout, and is sent again when the replica it went to loses the shard, and only
then."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.kv import KeyValue
from prometheus_client import REGISTRY

from sy_bus import subjects
from sy_bus.shards import Lease, now_ms, shard_key
from sy_devkit.embedded_nats import EmbeddedNats, round_trip
from sy_devkit.waiting import eventually
from sy_edge.upstream import UpstreamCalls

HEADERS = {"Sy-Charger": "test"}


@pytest.fixture
def kv(fresh_kv: KeyValue) -> KeyValue:
    return fresh_kv


@pytest.fixture
async def calls(nats_server: EmbeddedNats, kv: KeyValue) -> AsyncIterator[UpstreamCalls]:
    nc = await nats_server.connect_as("edge")
    upstream = UpstreamCalls(nc, kv)
    await upstream.start()
    yield upstream
    await upstream.stop()
    await nc.close()


@dataclass
class Replica:
    """A connectors replica serving one shard: answers the CALLs it gets, or holds them."""

    nc: Client
    name: str
    answering: bool = True
    received: list[Msg] = field(default_factory=list)
    sub: Subscription | None = None

    async def serve(self, shard: int) -> None:
        self.sub = await self.nc.subscribe(subjects.up_shard(shard), cb=self._on_call)
        await round_trip(self.nc)  # in force on the server before the edge sends

    async def leave(self) -> None:
        if self.sub is not None:
            await self.sub.unsubscribe()
            await round_trip(self.nc)

    async def _on_call(self, msg: Msg) -> None:
        self.received.append(msg)
        if self.answering:
            await msg.respond(f"{self.name}: ".encode() + msg.data)


@pytest.fixture
async def replicas(nats_server: EmbeddedNats) -> AsyncIterator[Callable[[str], Awaitable[Replica]]]:
    made: list[Replica] = []

    async def make(name: str) -> Replica:
        replica = Replica(await nats_server.connect_as("connectors"), name)
        made.append(replica)
        return replica

    yield make
    for replica in made:
        await replica.nc.close()


async def lease(kv: KeyValue, calls: UpstreamCalls, shard: int, owner: str) -> None:
    """Write the shard's lease as a replica would, and wait until the edge has seen it."""
    await kv.put(shard_key(shard), Lease(owner, now_ms() + 60_000).to_bytes())
    await eventually(
        lambda: (calls.map.leases.get(shard) or Lease("", 0)).owner == owner, 5, "lease seen"
    )


def charger() -> tuple[str, int]:
    cp = "CP-UP-" + uuid.uuid4().hex[:8]
    return cp, subjects.shard_of(cp)


def resent() -> float:
    return REGISTRY.get_sample_value("sy_edge_charger_calls_resent_total") or 0.0


async def test_a_call_waits_for_a_replica_to_take_the_shard(
    calls: UpstreamCalls, replicas: Callable[[str], Awaitable[Replica]]
) -> None:
    cp, shard = charger()
    started = time.monotonic()
    call = asyncio.create_task(calls.request(cp, b"boot", HEADERS, 5))
    await asyncio.sleep(0.3)  # no responders, again and again
    assert not call.done()
    await (await replicas("a")).serve(shard)
    assert await call == b"a: boot"
    assert time.monotonic() - started >= 0.3


async def test_no_replica_within_the_timeout_is_no_responders(calls: UpstreamCalls) -> None:
    cp, _ = charger()
    started = time.monotonic()
    with pytest.raises(NoRespondersError):
        await calls.request(cp, b"boot", HEADERS, 0.4)
    assert 0.35 < time.monotonic() - started < 2


async def test_a_replica_that_does_not_answer_is_a_timeout(
    calls: UpstreamCalls, replicas: Callable[[str], Awaitable[Replica]]
) -> None:
    cp, shard = charger()
    silent = await replicas("a")
    silent.answering = False
    await silent.serve(shard)
    started = time.monotonic()
    with pytest.raises(NatsTimeout):
        await calls.request(cp, b"boot", HEADERS, 0.3)
    assert 0.25 < time.monotonic() - started < 2
    assert len(silent.received) == 1


async def test_a_call_is_sent_again_when_its_replica_loses_the_shard(
    calls: UpstreamCalls, kv: KeyValue, replicas: Callable[[str], Awaitable[Replica]]
) -> None:
    cp, shard = charger()
    a, b = await replicas("a"), await replicas("b")
    await lease(kv, calls, shard, "a")
    a.answering = False  # it gets the CALL, then dies before answering
    await a.serve(shard)
    before = resent()
    call = asyncio.create_task(calls.request(cp, b"meter 1", HEADERS, 10))
    await eventually(lambda: len(a.received) == 1, 5, "the CALL at replica a")
    await a.leave()
    await b.serve(shard)
    await kv.put(shard_key(shard), Lease("b", now_ms() + 60_000).to_bytes())  # b takes it over
    assert await asyncio.wait_for(call, 5) == b"b: meter 1"
    assert len(a.received) == 1 and len(b.received) == 1
    assert resent() == before + 1


async def test_a_call_is_not_sent_again_when_the_shard_moves_between_others(
    calls: UpstreamCalls, kv: KeyValue, replicas: Callable[[str], Awaitable[Replica]]
) -> None:
    """Sent to a; a releases the shard (a graceful hand-over, after answering), b claims it, c
    takes it from b: none of that is a's loss while the CALL waits, so it is sent once."""
    cp, shard = charger()
    a = await replicas("a")
    await lease(kv, calls, shard, "a")
    a.answering = False
    await a.serve(shard)
    before = resent()
    call = asyncio.create_task(calls.request(cp, b"meter 1", HEADERS, 10))
    await eventually(lambda: len(a.received) == 1, 5, "the CALL at replica a")
    await lease(kv, calls, shard, "")  # released
    await lease(kv, calls, shard, "b")  # claimed while free
    await lease(kv, calls, shard, "c")  # taken from b
    await asyncio.sleep(0.1)
    assert not call.done()
    await a.received[0].respond(b"a: answered")
    assert await asyncio.wait_for(call, 5) == b"a: answered"
    assert len(a.received) == 1 and resent() == before
