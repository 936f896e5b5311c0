"""Publishing derived events to SY_EVENTS from the transactional outbox.

Events are committed with the frames they come from (journal.event_outbox), then published here
in commit order with `Nats-Msg-Id` = event id, then deleted. A crash or a NATS outage leaves them
in the outbox for the next round; a replay of SY_FRAMES re-derives events that are already stored
and therefore never reach the outbox again, so nothing is published twice.

A JetStream publish is a core NATS publish whose reply is the stream's acknowledgement, so the
chunk goes out as requests on `sy_bus.requests.Requests` (one inbox subscription, a future and a
timer per event) and each reply is checked with `sy_bus.publisher.acknowledged`: nats-py's
`publish_async` (also a random token, a semaphore and a JSON decode into a dataclass per
message) cost about twice as much, for ~1 event per 2 frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg  # type: ignore[import-untyped]
from nats.aio.client import Client
from nats.aio.msg import Msg

from sy_bus import Header
from sy_bus.publisher import acknowledged
from sy_bus.requests import Requests
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
        self._requests = Requests(nc)

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
        await self._requests.stop()

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
            published = await self._publish(
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

    async def _publish(self, events: list[tuple[str, str, bytes]]) -> list[str]:
        """Publish (event id, subject, data) in order; the ids JetStream acknowledged within
        ACK_TIMEOUT_S (each answer ends by its reply, or by its timeout in `Requests`)."""
        await self._requests.start()  # once; later calls find it subscribed
        loop = asyncio.get_running_loop()
        answers: list[asyncio.Future[Msg]] = []
        for event_id, subject, data in events:
            answer: asyncio.Future[Msg] = loop.create_future()
            await self._requests.send(
                subject, data, answer, ACK_TIMEOUT_S, headers={Header.DEDUP: event_id}
            )
            answers.append(answer)
        if answers:
            await asyncio.wait(answers)
        return [
            event_id
            for (event_id, _, _), answer in zip(events, answers, strict=True)
            if answer.exception() is None and acknowledged(answer.result())
        ]


async def _count(conn: asyncpg.Connection) -> int:
    value = await conn.fetchval("SELECT count(*) FROM journal.event_outbox")
    return int(value)
