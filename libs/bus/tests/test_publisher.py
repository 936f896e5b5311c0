"""Frame capture against a real nats-server: every captured frame ends up in SY_FRAMES exactly
once, whether its ack came, came late (after the timeout: it is published again), or came as an
error (no stream yet, the stream refusing it for now: it is published again until stored).

These tests delete, restrict and recreate SY_FRAMES, so they run against a server of their own;
the publisher connects as the edge's NATS user, with its production permissions."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy
from nats.js.errors import NotFoundError

from sy_bus import FrameDirection, FrameRecord, Header, publisher, streams
from sy_bus.publisher import FramePublisher
from sy_devkit.embedded_nats import EmbeddedNats
from sy_devkit.waiting import eventually

FRAMES = streams.FRAMES.name


@pytest.fixture(scope="module")
def own_nats() -> Iterator[EmbeddedNats]:
    workdir = Path(tempfile.mkdtemp(prefix="sy-publisher-"))
    server = EmbeddedNats(workdir).start()
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
async def js(own_nats: EmbeddedNats) -> AsyncIterator[JetStreamContext]:
    """The admin's JetStream, with SY_FRAMES as provisioned (recreated: empty)."""
    nc = await nats.connect(own_nats.url)
    js = nc.jetstream()
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(FRAMES)
    await js.add_stream(streams.stream_config(streams.FRAMES))
    yield js
    await nc.close()


@pytest.fixture
async def edge_nc(own_nats: EmbeddedNats) -> AsyncIterator[Client]:
    nc = await own_nats.connect_as("edge")
    yield nc
    await nc.close()


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Timeouts and backoff of a test's length, not production's."""
    monkeypatch.setattr(publisher, "ACK_TIMEOUT_S", 0.3)
    monkeypatch.setattr(publisher, "FIRST_RETRY_S", 0.05)
    monkeypatch.setattr(publisher, "LONGEST_RETRY_S", 0.2)


def frame(charger_id: str, n: int) -> FrameRecord:
    return FrameRecord(
        charger_id=charger_id,
        direction=FrameDirection.FROM_CHARGER if n % 2 == 0 else FrameDirection.TO_CHARGER,
        ts_ns=n,
        ocpp="ocpp1.6",
        raw=f'[2,"{n}","Heartbeat",{{}}]',
        instance="edge-test",
    )


def new_charger() -> str:
    return "CP-PUB-" + uuid.uuid4().hex[:8]


async def stored(js: JetStreamContext, charger_id: str) -> int:
    info = await js.stream_info(FRAMES, subjects_filter=f"sy.frames.{charger_id}.>")
    return sum((info.state.subjects or {}).values())


async def stored_ids(js: JetStreamContext, charger_id: str) -> list[str]:
    """The dedup ids of the charger's frames in the stream, one per stored message."""
    count = await stored(js, charger_id)
    sub = await js.subscribe(f"sy.frames.{charger_id}.>", ordered_consumer=True)
    try:
        ids = []
        for _ in range(count):
            msg = await sub.next_msg(timeout=5)
            ids.append((msg.headers or {})[Header.DEDUP])
        return ids
    finally:
        await sub.unsubscribe()


async def test_every_frame_is_stored_once_and_stop_drains(
    js: JetStreamContext, edge_nc: Client
) -> None:
    charger = new_charger()
    pub = FramePublisher(edge_nc.jetstream(), "edge-test")
    pub.start()
    for n in range(2000):
        pub.capture(frame(charger, n))
    await pub.stop()  # drains: every frame acknowledged before it returns
    assert pub.published == 2000 and pub.backlog == 0 and pub.overflowed == 0
    ids = await stored_ids(js, charger)
    assert len(ids) == 2000 and len(set(ids)) == 2000


async def test_a_restart_under_the_same_instance_id_loses_no_frame(
    js: JetStreamContext, edge_nc: Client
) -> None:
    """A restarted container keeps its pod name (the instance id) and counts from 1 again: its
    frames must not pass for the previous process's within the stream's duplicate window."""
    charger = new_charger()
    for life in range(2):
        pub = FramePublisher(edge_nc, "edge-0")
        pub.start()
        for n in range(10):
            pub.capture(frame(charger, life * 10 + n))
        await pub.stop()
        assert pub.published == 10
    ids = await stored_ids(js, charger)
    assert len(ids) == 20 and len(set(ids)) == 20


async def test_frames_wait_for_a_missing_stream(
    js: JetStreamContext, edge_nc: Client, quick: None, caplog: pytest.LogCaptureFixture
) -> None:
    """No stream: JetStream does not answer, NATS says "no responders" (503): published again
    with a backoff until the stream is there."""
    await js.delete_stream(FRAMES)
    charger = new_charger()
    pub = FramePublisher(edge_nc, "edge-test")
    pub.start()
    for n in range(50):
        pub.capture(frame(charger, n))
    await eventually(lambda: "not acknowledged by JetStream" in caplog.text, 5, "a retry")
    assert pub.published == 0 and pub.backlog == 50
    await js.add_stream(streams.stream_config(streams.FRAMES))
    await eventually(lambda: pub.published == 50, 5, "every frame acknowledged")
    ids = await stored_ids(js, charger)
    assert len(ids) == 50 and len(set(ids)) == 50
    await pub.stop()


async def test_an_error_ack_is_retried_until_stored(
    js: JetStreamContext, edge_nc: Client, quick: None
) -> None:
    """The stream answers `{"error": ...}` (here: full, discarding new messages) to some frames:
    those are published again until the stream takes them, each stored once."""
    config = (await js.stream_info(FRAMES)).config
    await js.update_stream(replace(config, max_msgs=10, discard=DiscardPolicy.NEW))
    charger = new_charger()
    pub = FramePublisher(edge_nc, "edge-test")
    pub.start()
    for n in range(30):
        pub.capture(frame(charger, n))
    await eventually(lambda: pub.published == 10, 5, "the first ten frames stored")
    await asyncio.sleep(0.5)  # the others refused, and refused again
    assert pub.published == 10 and pub.backlog == 20
    await js.update_stream(replace(config, max_msgs=-1, discard=DiscardPolicy.OLD))
    await eventually(lambda: pub.published == 30, 5, "every frame acknowledged")
    ids = await stored_ids(js, charger)
    assert len(ids) == 30 and len(set(ids)) == 30
    await pub.stop()


class HoldingProxy:
    """A TCP proxy to NATS that can hold back what the server sends (the acks) while the
    client's messages still reach the server. Counts the client's frame publications."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._open = asyncio.Event()
        self._open.set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.from_client = bytearray()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self._port)
        for pump in (
            self._pump(client_r, server_w, record=True),
            self._pump(server_r, client_w, record=False),
        ):
            task = asyncio.create_task(pump)
            self._tasks.add(task)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, record: bool
    ) -> None:
        try:
            while data := await reader.read(65536):
                if record:
                    self.from_client += data
                else:
                    await self._open.wait()
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()


async def test_a_frame_whose_ack_is_late_is_published_again_and_stored_once(
    js: JetStreamContext, own_nats: EmbeddedNats, quick: None
) -> None:
    proxy = HoldingProxy(own_nats.port)
    nc = await own_nats.connect_as("edge", f"nats://127.0.0.1:{await proxy.start()}")
    try:
        charger = new_charger()
        pub = FramePublisher(nc, "edge-test")
        pub.start()
        pub.capture(frame(charger, 0))
        await eventually(lambda: pub.published == 1, 5, "the first frame acknowledged")
        proxy.hold()  # the server's acks stop reaching the publisher
        for n in range(1, 21):
            pub.capture(frame(charger, n))

        async def all_stored() -> bool:
            return await stored(js, charger) == 21

        await eventually(all_stored, 5, "the frames stored, their acks held back")

        def publications() -> int:
            return bytes(proxy.from_client).count(f"HPUB sy.frames.{charger}.".encode())

        # Not acknowledged within the timeout: published again (the stream drops the copies).
        await eventually(lambda: publications() >= 1 + 2 * 20, 5, "the frames sent again")
        assert pub.published == 1
        proxy.release()
        await eventually(lambda: pub.published == 21, 5, "every frame acknowledged")
        ids = await stored_ids(js, charger)
        assert len(ids) == 21 and len(set(ids)) == 21
        await pub.stop()
    finally:
        await nc.close()
        await proxy.stop()


async def test_an_overflow_is_counted_not_raised(edge_nc: Client) -> None:
    pub = FramePublisher(edge_nc, "edge-test", max_queue=3)  # not started: nothing drains it
    charger = new_charger()
    for n in range(5):
        pub.capture(frame(charger, n))
    assert pub.overflowed == 2 and pub.backlog == 3


async def test_frames_captured_as_fields_are_stored_as_their_records(
    js: JetStreamContext, edge_nc: Client
) -> None:
    """The hot path hands `capture` a record's fields; the worker makes the record: the stream
    holds the same JSON as for the record itself, and a malformed tuple costs only itself."""
    charger = new_charger()
    pub = FramePublisher(edge_nc.jetstream(), "edge-test")
    pub.start()
    record = replace(frame(charger, 7), message_id="7", action="Heartbeat", rules=["r1"])
    fields = (
        record.charger_id,
        record.direction,
        record.ts_ns,
        record.ocpp,
        record.raw,
        record.message_type,
        record.message_id,
        record.action,
        record.backend,
        record.instance,
        record.connection_id,
        record.normalized,
        record.rules,
    )
    pub.capture(fields)
    pub.capture(("not", "a", "frame"))  # type: ignore[arg-type]
    pub.capture(frame(charger, 8))
    await pub.stop()
    assert pub.published == 2 and pub.backlog == 0
    sub = await js.subscribe(f"sy.frames.{charger}.>", ordered_consumer=True)
    try:
        first = await sub.next_msg(timeout=5)
        second = await sub.next_msg(timeout=5)
    finally:
        await sub.unsubscribe()
    assert FrameRecord.from_bytes(first.data) == record
    assert first.data == record.to_bytes()
    assert FrameRecord.from_bytes(second.data) == frame(charger, 8)
