"""The outbox publisher against real NATS and Postgres: what JetStream acknowledges is published
once, in order, under its event id, and deleted; what it does not stays for the next round."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg  # type: ignore[import-untyped]
import nats
import pytest
from nats.aio.client import Client

from sy_bus import Header, streams
from sy_devkit.embedded_nats import EmbeddedNats
from sy_devkit.inprocess import migrate
from sy_journal.db import create_pool
from sy_journal.outbox import OutboxPublisher


@pytest.fixture
async def pool(new_database: Callable[[], str]) -> AsyncIterator[asyncpg.Pool]:
    db = new_database()
    await migrate("sy_journal", db)
    pool = await create_pool(db)
    yield pool
    await pool.close()


@pytest.fixture
async def nc(nats_server: EmbeddedNats) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url)
    await streams.provision(client.jetstream())
    yield client
    await client.close()


async def outbox_ids(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT event_id FROM journal.event_outbox ORDER BY position")
    return [r[0] for r in rows]


async def test_acknowledged_events_are_published_in_order_and_the_rest_stay(
    pool: asyncpg.Pool, nc: Client
) -> None:
    token = uuid.uuid4().hex[:8]
    events = [(f"o-{token}-{n}", f"sy.events.outbox_test.cp-{token}", b'{"n":%d}' % n)
              for n in range(5)]  # fmt: skip
    # No stream captures this subject: JetStream cannot acknowledge it (503, no responders).
    stray = (f"o-{token}-stray", f"sy.nowhere.{token}", b"{}")
    rows = [*events[:2], stray, *events[2:]]
    await pool.executemany(
        "INSERT INTO journal.event_outbox (event_id, subject, data) VALUES ($1, $2, $3)", rows
    )
    publisher = OutboxPublisher(pool, nc)
    with pytest.raises(RuntimeError, match="1 events not acknowledged"):
        await publisher.publish_once()
    assert await outbox_ids(pool) == [stray[0]]

    sub = await nc.jetstream().subscribe(
        f"sy.events.outbox_test.cp-{token}", ordered_consumer=True, stream=streams.EVENTS.name
    )
    got = [await sub.next_msg(timeout=5) for _ in events]
    assert [(m.headers or {}).get(Header.DEDUP) for m in got] == [e[0] for e in events]
    assert [(m.subject, m.data) for m in got] == [(e[1], e[2]) for e in events]

    # The next round publishes nothing twice: the stray one fails again, alone.
    with pytest.raises(RuntimeError, match="1 events not acknowledged"):
        await publisher.publish_once()
    with pytest.raises(nats.errors.TimeoutError):
        await sub.next_msg(timeout=0.5)
    await pool.execute("DELETE FROM journal.event_outbox")
    assert await publisher.publish_once() is False
    await publisher.stop()
