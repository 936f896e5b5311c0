"""Capture frames to JetStream without putting JetStream on the hot path.

The edge and connectors call `FramePublisher.capture()` (no await, never blocks the charger's
frame). A single worker drains the queue in batches with asynchronous publishes and waits for the
acks; a frame whose ack does not arrive is published again with the same `Nats-Msg-Id`, so the
stream's duplicate window keeps exactly one copy (invariant 4: every frame is on JetStream).
"""

from __future__ import annotations

import asyncio
import itertools
import logging

from nats.js import JetStreamContext

from sy_bus import subjects
from sy_bus.envelopes import FrameRecord, Header
from sy_calls import stop_task

log = logging.getLogger(__name__)

BATCH = 512
ACK_TIMEOUT_S = 5.0


class FramePublisher:
    def __init__(self, js: JetStreamContext, instance: str, max_queue: int = 200_000) -> None:
        self._js = js
        self._instance = instance
        self._queue: asyncio.Queue[tuple[str, str, bytes]] = asyncio.Queue(maxsize=max_queue)
        self._seq = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        self.overflowed = 0

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def capture(self, record: FrameRecord) -> None:
        """Queue a frame for the stream. Overflow is logged and counted, never raised."""
        dedup = f"{self._instance}-{next(self._seq)}"
        try:
            self._queue.put_nowait(
                (dedup, subjects.frames(record.charger_id, record.direction), record.to_bytes())
            )
        except asyncio.QueueFull:
            self.overflowed += 1
            log.error(
                "frame capture queue full, frame not captured",
                extra={"charger_id": record.charger_id},
            )

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="frame-publisher")

    async def stop(self, drain_timeout_s: float = 5.0) -> None:
        """Publish what is queued (bounded by `drain_timeout_s`), then stop."""
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), timeout=drain_timeout_s)
        except TimeoutError:
            log.error("frame capture stopped with %d frames unpublished", self._queue.qsize())
        await stop_task(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._publish_batch(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _publish_batch(self, batch: list[tuple[str, str, bytes]]) -> None:
        pending = batch
        delay = 0.1
        while pending:
            futures = []
            for dedup, subject, data in pending:
                fut = await self._js.publish_async(subject, data, headers={Header.DEDUP: dedup})
                futures.append(fut)
            done, _ = (
                await asyncio.wait(futures, timeout=ACK_TIMEOUT_S) if futures else (set(), set())
            )
            failed = [
                item
                for item, fut in zip(pending, futures, strict=True)
                if fut not in done or fut.cancelled() or fut.exception() is not None
            ]
            for fut in futures:
                if not fut.done():
                    fut.cancel()
            self.published += len(pending) - len(failed)
            if failed:
                log.warning("%d frames not acknowledged by JetStream, retrying", len(failed))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            pending = failed
