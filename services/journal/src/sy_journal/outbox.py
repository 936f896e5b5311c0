"""Publishing derived events to SY_EVENTS from the transactional outbox.

Events are committed with the frames they come from (journal.event_outbox), then published here
in commit order with `Nats-Msg-Id` = event id, then deleted. A crash or a NATS outage leaves them
in the outbox for the next round; a replay of SY_FRAMES re-derives events that are already stored
and therefore never reach the outbox again, so nothing is published twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg  # type: ignore[import-untyped]
from nats.js import JetStreamContext

from sy_bus import Header
from sy_calls import stop_task
from sy_journal.metrics import EVENTS_PUBLISHED, INGEST_ERRORS, OUTBOX

log = logging.getLogger(__name__)

CHUNK = 1000
ACK_TIMEOUT_S = 5.0
IDLE_S = 2.0


class OutboxPublisher:
    def __init__(self, pool: asyncpg.Pool, js: JetStreamContext) -> None:
        self._pool = pool
        self._js = js
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

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
            futures = [
                await self._js.publish_async(
                    r["subject"], bytes(r["data"]), headers={Header.DEDUP: r["event_id"]}
                )
                for r in rows
            ]
            done, pending = await asyncio.wait(futures, timeout=ACK_TIMEOUT_S)
            for fut in pending:
                fut.cancel()
            published = [
                r["event_id"]
                for r, fut in zip(rows, futures, strict=True)
                if fut in done and not fut.cancelled() and fut.exception() is None
            ]
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
