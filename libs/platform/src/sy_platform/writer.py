"""Writes that must not wait on the caller's path: queued, batched, retried in the background."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from sy_calls import stop_task

T = TypeVar("T")
log = logging.getLogger(__name__)


class BatchWriter(Generic[T]):
    """Hands items to `write(batch)` from one background task; `put` never awaits.

    Used for records that matter but are not on a charger's critical path (connection records,
    upstream sessions): the socket handler queues them and goes on.
    """

    def __init__(
        self,
        name: str,
        write: Callable[[list[T]], Awaitable[None]],
        *,
        max_batch: int = 500,
        max_queued: int = 100_000,
    ) -> None:
        self._name = name
        self._write = write
        self._max_batch = max_batch
        self._queue: asyncio.Queue[T] = asyncio.Queue(maxsize=max_queued)
        self._task: asyncio.Task[None] | None = None
        self.failed = 0

    def put(self, item: T) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.failed += 1
            log.error("%s: queue full, record dropped", self._name)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self, timeout_s: float = 5.0) -> None:
        try:
            await asyncio.wait_for(self._queue.join(), timeout_s)
        except TimeoutError:
            log.warning("%s: %d records not written at shutdown", self._name, self._queue.qsize())
        await stop_task(self._task)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < self._max_batch:
                batch.append(self._queue.get_nowait())
            try:
                await self._write_with_retry(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write_with_retry(self, batch: list[T], attempts: int = 3) -> None:
        for attempt in range(1, attempts + 1):
            try:
                await self._write(batch)
                return
            except Exception:
                if attempt == attempts:
                    self.failed += len(batch)
                    log.exception("%s: %d records not written", self._name, len(batch))
                    return
                await asyncio.sleep(0.2 * attempt)
