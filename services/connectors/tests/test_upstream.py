"""One upstream to a backend (`sy_connectors.upstream`), against real WebSocket backends and a
real nats-server for the frame capture: a CALL made while the socket is not open waits for it,
and when the socket drops again before the CALL's turn comes, the CALL fails the way callers
handle (backend unavailable, connection lost), never with an internal error that leaves the
charger without an answer."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client
from websockets.asyncio.server import ServerConnection, serve

from sy_bus import BackendRef, FramePublisher
from sy_codec import OcppVersion
from sy_connectors.settings import ConnectorSettings
from sy_connectors.upstream import BackendUnavailable, Upstream
from sy_devkit.embedded_nats import EmbeddedNats

HEARTBEAT = '[2,"1","Heartbeat",{}]'


@pytest.fixture
async def frames(nats_server: EmbeddedNats) -> AsyncIterator[FramePublisher]:
    nc: Client = await nats_server.connect_as("connectors")
    publisher = FramePublisher(nc, "connectors-test")
    publisher.start()
    yield publisher
    await publisher.stop()
    await nc.close()


def settings() -> ConnectorSettings:
    return ConnectorSettings(
        connect_timeout_s=2.0, reconnect_initial_s=0.01, reconnect_max_s=0.05, call_timeout_s=2.0
    )


async def test_a_call_whose_socket_drops_as_it_opens_fails_as_unavailable_or_lost(
    frames: FramePublisher,
) -> None:
    """The backend takes the upgrade and drops the TCP connection at once: the upstream opens
    (waking the CALL waiting for it) and closes again, often before the CALL runs on. Each
    CALL ends with one of the errors its callers answer the charger with."""

    async def drop_at_once(ws: ServerConnection) -> None:
        ws.transport.abort()

    outcomes: Counter[str] = Counter()
    async with serve(drop_at_once, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:  # type: ignore[list-item]
        port = server.sockets[0].getsockname()[1]
        backend = BackendRef(name="dropper", url=f"ws://127.0.0.1:{port}")
        for _ in range(20):
            upstream = Upstream(
                "CP-DROP", OcppVersion.V16, backend, settings(), frames, lambda *_: None
            )
            upstream.start()
            try:
                await upstream.call("1", HEARTBEAT)
                outcomes["answered"] += 1
            except BackendUnavailable:
                outcomes["unavailable"] += 1
            except ConnectionError:
                outcomes["lost"] += 1
            finally:
                await upstream.close()
    assert outcomes["answered"] == 0
    assert outcomes["unavailable"] + outcomes["lost"] == 20


async def test_a_call_waits_for_the_socket_and_gets_the_answer(frames: FramePublisher) -> None:
    async def answer(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send('[3,"1",{"currentTime":"2026-11-21T10:00:00.000Z"}]')
            assert message == HEARTBEAT

    async with serve(answer, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:  # type: ignore[list-item]
        port = server.sockets[0].getsockname()[1]
        backend = BackendRef(name="csms", url=f"ws://127.0.0.1:{port}")
        upstream = Upstream(
            "CP-WAIT", OcppVersion.V16, backend, settings(), frames, lambda *_: None
        )
        upstream.start()  # not open yet: the CALL waits for it
        try:
            reply = await asyncio.wait_for(upstream.call("1", HEARTBEAT), 5)
        finally:
            await upstream.close()
    assert reply.startswith('[3,"1"')
