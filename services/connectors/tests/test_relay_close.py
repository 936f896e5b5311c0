"""Chargers leaving (`Relay`, against a real nats-server, Postgres and real sockets): their links
are closed in the background, all at once, so the presence events behind them are not held up
by the backends' closing handshakes; and the upstream sessions they end are written in one
statement per batch, not one per session.

The backend here completes the WebSocket opening handshake and then never answers a closing
frame, like a backend that is overloaded or gone: each upstream's close then waits for its
close timeout (10 s). Closed one after the other, five chargers leaving held up every presence
event behind them for 50 s."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.js.api import DeliverPolicy, KeyValueConfig
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from sy_bus import (
    BackendRef,
    EdgeAlive,
    EffectiveRoute,
    FramePublisher,
    Presence,
    streams,
    subjects,
)
from sy_connectors.link import LinkContext
from sy_connectors.models import UpstreamSession
from sy_connectors.relay import Relay
from sy_connectors.sessions import SessionLog
from sy_connectors.settings import ConnectorSettings
from sy_devkit.embedded_nats import EmbeddedNats
from sy_devkit.inprocess import migrated_engine, statements_run
from sy_devkit.waiting import eventually
from sy_events.models import ChargerDisconnected, parse_event
from sy_events.subjects import of_type

V16 = "ocpp1.6"


class SilentCloser:
    """A WebSocket backend (websockets' sans-I/O server on a real socket) that accepts every
    upstream and never sends a closing frame back: what it would have sent is discarded."""

    def __init__(self) -> None:
        self.opened: dict[str, asyncio.StreamWriter] = {}  # charger id -> its socket
        self.opens: list[str] = []  # every upstream opened, in order
        self.close_frames: set[str] = set()  # chargers whose upstream sent a closing frame
        self.ended: set[str] = set()  # chargers whose upstream's TCP connection ended
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/ocpp"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        protocol = ServerProtocol(subprotocols=[Subprotocol(V16)])
        charger = ""
        try:
            while data := await reader.read(65536):
                protocol.receive_data(data)
                for ev in protocol.events_received():
                    if isinstance(ev, Request):
                        protocol.send_response(protocol.accept(ev))
                        writer.write(b"".join(protocol.data_to_send()))
                        charger = ev.path.rsplit("/", 1)[-1]
                        self.opened[charger] = writer
                        self.opens.append(charger)
                    elif isinstance(ev, Frame) and ev.opcode is Opcode.CLOSE:
                        self.close_frames.add(charger)
                protocol.data_to_send()  # the closing frame (or pong) it owes: never sent
        except ConnectionError:
            pass
        finally:
            self.ended.add(charger)
            writer.close()

    def cut(self) -> None:
        """Drop every connection (as the backend finally going away would)."""
        for writer in self.opened.values():
            writer.transport.abort()

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def nc(nats_server: EmbeddedNats) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url)
    await streams.provision(client.jetstream())  # as the admin, like `python -m sy_bus.provision`
    yield client
    await client.close()


@pytest.fixture
async def buckets(nc: Client) -> AsyncIterator[dict[str, KeyValue]]:
    """Routes, presence and shard leases of this test's own (no other replica takes its
    shards or sees its routes)."""
    js = nc.jetstream()
    names = {
        role: f"test-{role}-{uuid.uuid4().hex[:8]}" for role in ("routes", "presence", "shards")
    }
    kvs = {role: await js.create_key_value(KeyValueConfig(bucket=n)) for role, n in names.items()}
    yield kvs
    for name in names.values():
        await js.delete_key_value(name)


@pytest.fixture
async def engine(new_database: Callable[[], str]) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine("sy_connectors", new_database()) as migrated:
        yield migrated


def presence(
    charger_id: str, connected: bool, connection_id: str, instance: str = "edge-test"
) -> bytes:
    """What the edge publishes when a charger's socket opens or closes."""
    return Presence(charger_id, connected, instance, connection_id, V16, time.time_ns()).to_bytes()


async def present_in_bucket(kv: KeyValue) -> set[str]:
    """The chargers `sy-presence` says are connected."""
    present = set()
    for key in await kv.keys():
        with contextlib.suppress(KeyNotFoundError):
            entry = await kv.get(key)
            if entry.value and Presence.from_bytes(entry.value).connected:
                present.add(Presence.from_bytes(entry.value).charger_id)
    return present


def heartbeat(instance: str, started_ns: int) -> bytes:
    """What an edge replica publishes every few seconds."""
    return EdgeAlive(instance, started_ns, time.time_ns(), 0).to_bytes()


@asynccontextmanager
async def running_relay(
    nc: Client, buckets: dict[str, KeyValue], engine: AsyncEngine, **settings: Any
) -> AsyncIterator[tuple[Relay, SilentCloser]]:
    """A connectors relay whose default route is a `SilentCloser` backend; stopped on exit."""
    backend = SilentCloser()
    url = await backend.start()
    route = EffectiveRoute(primary=BackendRef(name="silent", url=url, ocpp_versions=[V16]))
    await buckets["routes"].put(streams.DEFAULT_ROUTE_KEY, route.to_bytes())

    js = nc.jetstream()
    defaults: dict[str, Any] = {
        "instance_id": f"close-test-{uuid.uuid4().hex[:6]}",
        "ping_interval_s": None,
        "drain_reattach_s": 0,
    }
    config = ConnectorSettings(**{**defaults, **settings})
    frames = FramePublisher(js, config.instance_id)
    frames.start()
    sessions = SessionLog(engine, config.instance_id)
    sessions.start()
    memory_kv = (
        await js.key_value(streams.STATE.name),
        await js.key_value(streams.TRANSACTIONS.name),
    )
    relay = Relay(
        LinkContext(config, nc, js, frames, sessions, memory_kv),
        buckets["routes"],
        buckets["presence"],
        buckets["shards"],
    )
    await relay.start()
    try:
        yield relay, backend
    finally:
        await relay.stop()
        await sessions.stop()
        await frames.stop()
        await backend.stop()


async def test_chargers_leaving_together_do_not_hold_up_presence_behind_their_closes(
    nc: Client, buckets: dict[str, KeyValue], engine: AsyncEngine
) -> None:
    async with running_relay(nc, buckets, engine) as (relay, backend):
        run = uuid.uuid4().hex[:6]
        leaving = [f"CP-LEAVE-{run}-{n}" for n in range(5)]
        late = f"CP-LATE-{run}"
        for cid in leaving:
            await nc.publish(subjects.presence(cid), presence(cid, True, f"c-{cid}"))
        await eventually(lambda: set(backend.opened) >= set(leaving), within_s=10)

        # All five leave at once, then another charger arrives.
        for cid in leaving:
            await nc.publish(subjects.presence(cid), presence(cid, False, f"c-{cid}"))
        await nc.publish(subjects.presence(late), presence(late, True, f"c-{late}"))

        # Its upstream opens at once, not after five close timeouts...
        await eventually(lambda: late in backend.opened, 3, "the arriving charger's upstream")
        assert not set(leaving) & set(relay.links)
        # ... because the five closes are under way together, each waiting for its backend.
        await eventually(lambda: backend.close_frames >= set(leaving), 3, "five closes under way")
        assert set(relay.closing) == set(leaving)

        # One of them comes back while its old upstream is still closing: its new upstream
        # waits for that close, so the backend never holds two of the charger's at once.
        back = leaving[0]
        await nc.publish(subjects.presence(back), presence(back, True, f"c2-{back}"))
        await asyncio.sleep(0.5)
        assert backend.opens.count(back) == 1 and back not in relay.links

        backend.cut()  # the backend goes: the closes end without waiting for their timeout
        await eventually(lambda: not relay.closing, within_s=3)
        await eventually(lambda: backend.opens.count(back) == 2, 5, "the returning upstream")

    async with engine.connect() as conn:
        rows = (await conn.execute(select(UpstreamSession).where(
            UpstreamSession.charger_id.in_([*leaving, late])
        ))).all()  # fmt: skip
    assert sorted(r.charger_id for r in rows) == sorted([*leaving, leaving[0], late])
    assert all(r.ended_at is not None for r in rows)  # `late` ended when the relay stopped


async def test_the_chargers_of_an_edge_that_crashed_or_restarted_are_let_go(
    nc: Client, buckets: dict[str, KeyValue], engine: AsyncEngine
) -> None:
    """An edge that dies announces no "disconnected" for its chargers: without its heartbeat
    their upstreams would stay open for ever, and the backend would show them online."""
    run = uuid.uuid4().hex[:6]
    crashing, restarting, old = (f"edge-{role}-{run}" for role in ("crash", "restart", "old"))
    on = {edge: [f"CP-{edge}-{n}" for n in range(3)] for edge in (crashing, restarting, old)}
    async with running_relay(nc, buckets, engine, edge_lost_after_s=1.0) as (relay, backend):
        relay.presence_cleanup_after_s = 0.5  # 60 s in service: after the reconnect storm
        started = time.time_ns()
        for edge in (crashing, restarting):  # `old` is an edge version without a heartbeat
            await nc.publish(subjects.edge_alive(edge), heartbeat(edge, started))
        for edge, chargers in on.items():
            for cid in chargers:
                announced = presence(cid, True, f"c-{cid}", edge)
                await buckets["presence"].put(subjects.charger_token(cid), announced)
                await nc.publish(subjects.presence(cid), announced)
        everyone = {cid for chargers in on.values() for cid in chargers}
        await eventually(lambda: set(backend.opened) >= everyone, within_s=10)

        js = nc.jetstream()
        disconnected = await js.subscribe(
            of_type("charger_disconnected"), ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
        )
        # `restarting` restarts under the same id; one of its chargers is back on it at once.
        restarted = time.time_ns()
        back = on[restarting][0]
        announced = presence(back, True, f"c2-{back}", restarting)
        await buckets["presence"].put(subjects.charger_token(back), announced)
        await nc.publish(subjects.presence(back), announced)
        await eventually(lambda: relay.links[back].connection_id == f"c2-{back}", 3, "back")
        # `crashing` falls silent; `restarting` goes on with its new start time.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            await nc.publish(subjects.edge_alive(restarting), heartbeat(restarting, restarted))
            await asyncio.sleep(0.25)

        gone = set(on[crashing]) | set(on[restarting][1:])
        await eventually(lambda: backend.close_frames >= gone, 3, "the gone chargers' closes")
        assert not gone & set(relay.links) and not gone & set(relay.present)
        assert set(relay.links) >= {back, *on[old]}  # never heard, never declared gone
        assert backend.opens.count(back) == 1  # its upstream stayed through the restart
        assert set(relay.edges.edges) >= {restarting} and crashing not in relay.edges.edges
        backend.cut()  # the closes end now, not at their timeout

        # What the edges could not say: each gone charger's disconnection, once.
        events: dict[str, ChargerDisconnected] = {}
        deadline = time.monotonic() + 5
        while len(events) < len(gone) and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                event = parse_event((await disconnected.next_msg(timeout=0.5)).data)
                if isinstance(event, ChargerDisconnected) and event.charger_id in everyone:
                    events[event.charger_id] = event
        await disconnected.unsubscribe()

        # Nor could they delete their presence entries: a connectors replica starting now would
        # open those upstreams again. The returning charger's entry (its new socket) stays.
        async def only_those_back_present() -> bool:
            return await present_in_bucket(buckets["presence"]) == {back, *on[old]}

        await eventually(only_those_back_present, 5, "the gone chargers' presence entries deleted")
    assert set(events) == gone
    assert all(e.reason == "edge_lost" and e.event_id == f"d-c-{cid}" for cid, e in events.items())
    assert {events[cid].instance for cid in on[crashing]} == {crashing}
    assert all(events[cid].ts.timestamp() * 1e9 <= restarted + 1e6 for cid in on[restarting][1:])


async def test_chargers_back_soon_after_their_edge_restarted_keep_their_upstreams(
    nc: Client, buckets: dict[str, KeyValue], engine: AsyncEngine
) -> None:
    """A restart under the same id is seen at the new process's first heartbeat, before its
    chargers are back: they get the drain grace, as when an edge drains."""
    run = uuid.uuid4().hex[:6]
    edge = f"edge-restart-{run}"
    returning, gone = f"CP-RET-{run}", f"CP-GONE-{run}"
    async with running_relay(nc, buckets, engine, drain_reattach_s=1.5) as (relay, backend):
        await nc.publish(subjects.edge_alive(edge), heartbeat(edge, time.time_ns()))
        for cid in (returning, gone):
            await nc.publish(subjects.presence(cid), presence(cid, True, f"c-{cid}", edge))
        await eventually(lambda: {returning, gone} <= set(backend.opened), within_s=10)

        await nc.publish(subjects.edge_alive(edge), heartbeat(edge, time.time_ns()))  # restart
        await eventually(lambda: gone not in relay.present, 3, "the restart seen")
        await asyncio.sleep(0.3)
        assert {returning, gone} <= set(relay.links)  # within the grace: nothing closed yet
        await nc.publish(
            subjects.presence(returning), presence(returning, True, f"c2-{returning}", edge)
        )
        await eventually(lambda: gone not in relay.links, 4, "the charger not back let go")
        assert relay.links[returning].connection_id == f"c2-{returning}"
        assert backend.opens.count(returning) == 1  # the backend saw no reconnect
        backend.cut()


async def test_sessions_ending_together_are_written_in_one_statement(engine: AsyncEngine) -> None:
    statements = statements_run(engine)
    log = SessionLog(engine, "sessions-test")
    log.start()
    run = uuid.uuid4().hex[:6]
    earlier = [log.started(f"CP-S-{run}-{n}", "legacy", "ws://b/x", V16) for n in range(300)]
    await log.stop()  # written: 300 sessions open
    log.start()
    statements.clear()
    for session_id in earlier:
        log.ended(session_id)
    brief = [log.started(f"CP-B-{run}-{n}", "legacy", "ws://b/x", V16) for n in range(50)]
    for session_id in brief:
        log.ended(session_id)  # started and ended within one batch
    await log.stop()

    assert statements.count("UPDATE") == 1, statements
    assert statements.count("INSERT") == 1, statements
    async with engine.connect() as conn:
        rows = (await conn.execute(select(UpstreamSession).where(
            UpstreamSession.id.in_([*earlier, *brief])
        ))).all()  # fmt: skip
    assert len(rows) == 350
    assert all(r.ended_at is not None and r.ended_at >= r.started_at for r in rows)
