"""`round_trip(nc)`: when it returns, the server has read what the client queued before it.

The client talks to the real nats-server through a TCP relay that records the protocol lines
the client sent, in the order they went on the wire: a PONG only vouches for what the server
read before the PING it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import nats
import pytest
from nats.aio.client import Client

from sy_devkit.embedded_nats import EmbeddedNats, round_trip


class Recorder:
    """Relays one client to the server; keeps the verb of every line the client sent."""

    def __init__(self, server_port: int) -> None:
        self.read: list[str] = []
        self._server_port = server_port
        self._writers: list[asyncio.StreamWriter] = []

    async def relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._server_port)
        self._writers += [writer, up_writer]
        down = asyncio.create_task(self._copy(up_reader, writer))
        try:
            while line := await reader.readline():
                self.read.append(line.decode().split(" ")[0].strip())
                up_writer.write(line)
        finally:
            down.cancel()

    @staticmethod
    async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)

    def close(self) -> None:
        for writer in self._writers:
            writer.close()


@pytest.fixture
async def client(nats_server: EmbeddedNats) -> AsyncIterator[tuple[Client, Recorder]]:
    recorder = Recorder(nats_server.port)
    relay = await asyncio.start_server(recorder.relay, "127.0.0.1", 0)
    port = relay.sockets[0].getsockname()[1]
    url = urlsplit(nats_server.url)
    through = url._replace(netloc=url.netloc.rsplit(":", 1)[0] + f":{port}")
    nc = await nats.connect(urlunsplit(through), allow_reconnect=False)
    recorder.read.clear()  # the handshake's CONNECT and PING
    yield nc, recorder
    with contextlib.suppress(Exception):
        await nc.close()
    recorder.close()
    relay.close()
    await relay.wait_closed()


async def test_after_round_trip_the_server_read_the_subscription(
    client: tuple[Client, Recorder],
) -> None:
    nc, server = client
    await nc.subscribe("some.subject")
    await round_trip(nc)
    assert "SUB" in server.read
    assert "PING" in server.read[server.read.index("SUB") :], server.read


async def test_a_plain_flush_pings_ahead_of_a_queued_subscription(
    client: tuple[Client, Recorder],
) -> None:
    """Why `round_trip` exists: nats-py writes flush's PING before the SUB still queued, so its
    PONG does not vouch for the SUB. Should this fail after a nats-py upgrade, `nc.flush()` has
    become enough and `round_trip` can become a single flush."""
    nc, server = client
    await nc.subscribe("some.subject")
    await nc.flush()
    await asyncio.sleep(0.1)  # the SUB follows: only its place on the wire matters here
    assert server.read[:2] == ["PING", "SUB"]
