"""Publishing derived events to SY_EVENTS from the transactional outbox.

Events are committed with the frames they come from (journal.event_outbox), then published here
in commit order with `Nats-Msg-Id` = event id, then deleted. A crash or a NATS outage leaves them
in the outbox for the next round; a replay of SY_FRAMES re-derives events that are already stored
and therefore never reach the outbox again, so nothing is published twice.

A JetStream publish is a core NATS publish whose reply is the stream's acknowledgement. The chunk
is published that way with replies to one inbox subscription, which counts the acknowledgements:
nats-py's `publish_async` (a future, a random token, a semaphore and a JSON decode into a
dataclass per message) cost twice as much, for ~1 event per 2 frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg  # type: ignore[import-untyped]
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from sy_bus import Header
from sy_bus.publisher import acknowledged
from sy_calls import stop_task
from sy_journal.metrics import EVENTS_PUBLISHED, INGEST_ERRORS, OUTBOX

log = logging.getLogger(__name__)

CHUNK = 1000
ACK_TIMEOUT_S = 5.0
IDLE_S = 2.0


class OutboxPublisher:
    def __init__(self, pool: asyncpg.Pool, nc: Client) -> None:
        self._pool = pool
        self._nc = nc
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._acks = _Acks(nc)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="journal-outbox")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=ACK_TIMEOUT_S + 1)
            except (TimeoutError, Exception):
                await stop_task(self._task)
        await self._acks.close()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                more = await self.publish_once()
            except Exception as exc:
                INGEST_ERRORS.labels(kind="publish").inc()
                log.warning("publishing events failed, retrying: %r", exc)
                more = False
            if not more:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=IDLE_S)
                self._wake.clear()

    async def publish_once(self) -> bool:
        """Publish one chunk; True when more may be waiting."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT event_id, subject, data FROM journal.event_outbox "
                "ORDER BY position LIMIT $1",
                CHUNK,
            )
            OUTBOX.set(len(rows) if len(rows) < CHUNK else await _count(conn))
            if not rows:
                return False
            published = await self._acks.publish(
                [(r["event_id"], r["subject"], bytes(r["data"])) for r in rows]
            )
            if published:
                await conn.execute(
                    "DELETE FROM journal.event_outbox WHERE event_id = ANY($1::text[])", published
                )
                EVENTS_PUBLISHED.inc(len(published))
            if len(published) < len(rows):
                raise RuntimeError(f"{len(rows) - len(published)} events not acknowledged")
            OUTBOX.set(max(0, len(rows) - len(published)))
            return len(rows) == CHUNK


async def _count(conn: asyncpg.Connection) -> int:
    value = await conn.fetchval("SELECT count(*) FROM journal.event_outbox")
    return int(value)


class _Acks:
    """Publishes JetStream messages and collects their acknowledgements on one inbox."""

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._sub: Subscription | None = None
        self._inbox = ""
        self._round = 0
        # The current round's reply subjects -> event id; answered and acknowledged ones.
        self._waiting: dict[str, str] = {}
        self._answered: set[str] = set()
        self._acked: list[str] = []
        self._all_answered = asyncio.Event()

    async def publish(self, messages: list[tuple[str, str, bytes]]) -> list[str]:
        """Publish (event id, subject, data) in order; the ids JetStream acknowledged within
        ACK_TIMEOUT_S (an answer of a round given up on is ignored)."""
        if self._sub is None:
            self._inbox = self._nc.new_inbox()
            self._sub = await self._nc.subscribe(f"{self._inbox}.*", cb=self._on_reply)
        self._round += 1
        prefix = f"{self._inbox}.{self._round}-"
        self._waiting = {f"{prefix}{n}": event_id for n, (event_id, _, _) in enumerate(messages)}
        self._answered, self._acked = set(), []
        self._all_answered.clear()
        for n, (event_id, subject, data) in enumerate(messages):
            await self._nc.publish(
                subject, data, reply=f"{prefix}{n}", headers={Header.DEDUP: event_id}
            )
        if messages:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_answered.wait(), timeout=ACK_TIMEOUT_S)
        acked, self._waiting = self._acked, {}
        return acked

    async def _on_reply(self, msg: Msg) -> None:
        event_id = self._waiting.get(msg.subject)
        if event_id is None or msg.subject in self._answered:
            return  # a late answer of an earlier round, or a second one
        self._answered.add(msg.subject)
        if acknowledged(msg):
            self._acked.append(event_id)
        if len(self._answered) == len(self._waiting):
            self._all_answered.set()

    async def close(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):  # the connection may already be closing
                await self._sub.unsubscribe()
            self._sub = None
