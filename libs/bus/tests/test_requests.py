"""Request/reply over one inbox subscription, against a real nats-server and the production
users: the edge asks on `sy.up.<shard>.<charger>`, the connectors answer. The answers are those
of nats-py's `Client.request`: the reply, "no responders" when nobody subscribes, a timeout when
nobody answers."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from sy_bus import subjects
from sy_bus.requests import Requests
from sy_devkit.embedded_nats import EmbeddedNats, round_trip
from sy_devkit.waiting import eventually


@pytest.fixture
async def edge(nats_server: EmbeddedNats) -> AsyncIterator[Requests]:
    nc = await nats_server.connect_as("edge")
    requests = Requests(nc)
    await requests.start()
    yield requests
    await requests.stop()
    await nc.close()


@pytest.fixture
async def connectors(nats_server: EmbeddedNats) -> AsyncIterator[Client]:
    nc = await nats_server.connect_as("connectors")
    yield nc
    await nc.close()


def charger() -> str:
    return "CP-REQ-" + uuid.uuid4().hex[:8]


async def test_the_reply_comes_back_with_its_headers(edge: Requests, connectors: Client) -> None:
    cp = charger()

    async def answer(msg: Msg) -> None:
        headers = {"Sy-Msg-Id": (msg.headers or {}).get("Sy-Msg-Id", "")}
        await connectors.publish(msg.reply, b"answer to " + msg.data, headers=headers)

    await connectors.subscribe(subjects.up_shard(subjects.shard_of(cp)), cb=answer)
    await round_trip(connectors)  # subscribed on the server before the edge asks
    calls = [
        edge.request(subjects.up(cp), f"call {n}".encode(), 5, {"Sy-Msg-Id": str(n)})
        for n in range(20)
    ]
    replies = await asyncio.gather(*calls)
    assert [r.data for r in replies] == [f"answer to call {n}".encode() for n in range(20)]
    assert [(r.headers or {}).get("Sy-Msg-Id") for r in replies] == [str(n) for n in range(20)]
    assert edge.waiting == 0


async def test_nobody_subscribed_is_no_responders_at_once(edge: Requests) -> None:
    started = time.monotonic()
    with pytest.raises(NoRespondersError):
        await edge.request(subjects.up(charger()), b"call", 5)
    assert time.monotonic() - started < 1
    assert edge.waiting == 0


async def silent_subscriber(nc: Client, subject: str) -> list[Msg]:
    """Subscribe to `subject` and answer nothing: the requests it receives, as they arrive."""
    received: list[Msg] = []

    async def keep(msg: Msg) -> None:
        received.append(msg)

    await nc.subscribe(subject, cb=keep)
    await round_trip(nc)  # in force on the server before anyone publishes
    return received


async def test_nobody_answering_is_a_timeout(edge: Requests, connectors: Client) -> None:
    cp = charger()
    received = await silent_subscriber(connectors, subjects.up(cp))
    started = time.monotonic()
    with pytest.raises(NatsTimeout):
        await edge.request(subjects.up(cp), b"call", 0.3)
    assert 0.25 < time.monotonic() - started < 2
    assert len(received) == 1 and edge.waiting == 0
    await connectors.publish(received[0].reply, b"too late")  # ignored
    await round_trip(connectors)


async def test_a_request_its_caller_gave_up_on_ignores_its_reply(
    edge: Requests, connectors: Client
) -> None:
    cp = charger()
    received = await silent_subscriber(connectors, subjects.up(cp))
    answer: asyncio.Future[Msg] = asyncio.get_running_loop().create_future()
    await edge.send(subjects.up(cp), b"call", answer, 5)
    await eventually(lambda: len(received) == 1, 5, "the request received")
    answer.set_exception(LookupError("sent elsewhere"))
    await received[0].respond(b"late answer")
    await eventually(lambda: edge.waiting == 0, 5, "the reply consumed")
    with pytest.raises(LookupError):
        answer.result()
