"""`Fetcher`: the journal's pull requests on a durable consumer, against a real nats-server and
as the journal's own NATS user (its inbox prefix and permissions)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from sy_devkit.embedded_nats import EmbeddedNats
from sy_devkit.waiting import eventually
from sy_journal.pull import Fetcher, FetchRefused, PullLoop


@pytest.fixture
async def admin(nats_server: EmbeddedNats) -> AsyncIterator[Client]:
    nc = await nats.connect(nats_server.url)
    yield nc
    await nc.close()


@pytest.fixture
async def journal_nc(nats_server: EmbeddedNats) -> AsyncIterator[Client]:
    nc = await nats_server.connect_as("journal")
    yield nc
    await nc.close()


@pytest.fixture
async def stream(admin: Client) -> AsyncIterator[str]:
    """A stream and a durable consumer `c` of this test's own."""
    name = f"TEST_FETCH_{uuid.uuid4().hex[:8]}"
    js = admin.jetstream()
    await js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"]))
    await js.add_consumer(
        name, ConsumerConfig(durable_name="c", ack_policy=AckPolicy.EXPLICIT, max_ack_pending=100)
    )
    yield name
    await js.delete_stream(name)


async def _publish(admin: Client, stream: str, n: int) -> None:
    js = admin.jetstream()
    for i in range(n):
        await js.publish(f"{stream}.x", str(i).encode())


async def test_a_fetch_takes_up_to_a_batch_and_the_next_one_the_rest(
    admin: Client, journal_nc: Client, stream: str
) -> None:
    await _publish(admin, stream, 25)
    fetcher = Fetcher(journal_nc, stream, "c")
    await fetcher.start()
    try:
        first = await fetcher.fetch(10, timeout_s=2)
        second = await fetcher.fetch(10, timeout_s=2)
        third = await fetcher.fetch(10, timeout_s=2)
        for msg in [*first, *second, *third]:
            await msg.ack()
    finally:
        await fetcher.stop()
    assert [len(b) for b in (first, second, third)] == [10, 10, 5]
    assert [int(m.data) for m in [*first, *second, *third]] == list(range(25))

    async def all_acknowledged() -> bool:
        info = await admin.jetstream().consumer_info(stream, "c")
        return info.num_pending == 0 and info.num_ack_pending == 0

    await eventually(all_acknowledged, 5, "every message delivered and acknowledged")


async def test_an_empty_stream_gives_an_empty_batch_after_the_timeout(
    journal_nc: Client, stream: str
) -> None:
    fetcher = Fetcher(journal_nc, stream, "c")
    await fetcher.start()
    try:
        started = time.monotonic()
        assert await fetcher.fetch(10, timeout_s=0.5) == []
        took = time.monotonic() - started
    finally:
        await fetcher.stop()
    assert 0.4 < took < 2.0, took  # the server's 408 at expiry ends the wait


async def test_a_message_published_while_a_fetch_waits_is_delivered_at_once(
    admin: Client, journal_nc: Client, stream: str
) -> None:
    fetcher = Fetcher(journal_nc, stream, "c")
    await fetcher.start()
    try:
        waiting = asyncio.create_task(fetcher.fetch(10, timeout_s=5))
        await asyncio.sleep(0.3)
        published = time.monotonic()
        await _publish(admin, stream, 1)
        got = await waiting
        latency = time.monotonic() - published
    finally:
        await fetcher.stop()
    assert [m.data for m in got] == [b"0"]
    assert latency < 1.0, latency  # not at the request's expiry (5 s)


async def test_a_consumer_that_does_not_exist_is_an_error_not_an_empty_stream(
    journal_nc: Client, stream: str
) -> None:
    fetcher = Fetcher(journal_nc, stream, "missing")
    await fetcher.start()
    try:
        with pytest.raises(FetchRefused, match=r"^503"):  # no responders
            await fetcher.fetch(10, timeout_s=0.5)
    finally:
        await fetcher.stop()


async def test_a_batch_that_is_not_full_waits_the_linger_for_more(
    admin: Client, journal_nc: Client, stream: str
) -> None:
    """Frames trickling in (here 20 over ~0.2 s) are stored in one or two transactions, not one
    each: with `SY_BATCH_LINGER_S` the first frame's batch waits for those behind it."""
    batches: list[list[int]] = []

    async def handle(msgs: list[Msg]) -> None:
        batches.append([int(m.data) for m in msgs])
        for msg in msgs:
            await msg.ack()

    config = ConsumerConfig(durable_name="c", ack_policy=AckPolicy.EXPLICIT, max_ack_pending=100)
    stopping = asyncio.Event()
    loop = PullLoop(
        journal_nc,
        journal_nc.jetstream(),
        stream,
        config,
        handle,
        batch=100,
        fetch_timeout_s=1.0,
        stopping=stopping,
        linger_s=0.6,
    )
    await loop.start()
    try:
        js = admin.jetstream()
        for i in range(20):
            await js.publish(f"{stream}.x", str(i).encode())
            await asyncio.sleep(0.01)
        await eventually(lambda: sum(map(len, batches)) == 20, 5, "every message handled")
    finally:
        stopping.set()
        await loop.stop(5)
    assert [n for batch in batches for n in batch] == list(range(20))
    assert len(batches) <= 2, [len(b) for b in batches]
