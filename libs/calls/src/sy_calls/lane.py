"""A serial lane: items run one at a time, in order, on their own task."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from sy_calls.tasks import start_eagerly, stop_task

T = TypeVar("T")
log = logging.getLogger(__name__)


class LaneClosed(Exception):
    """The lane no longer accepts work (its charger or backend is gone)."""


class Lane(Generic[T]):
    """Runs `handler(item)` for each submitted item, strictly one after the other.

    `submit` never awaits, so a NATS callback or a socket reader hands work over and goes back to
    reading: one slow peer never delays another, and a charger's answers are still read while its
    own CALL waits for the backend.

    An idle lane holds no task and no queue: the task starts with the first item and ends when
    the queue is empty. A gateway holds two lanes per connected charger, most of them idle, so
    this is memory per charger (an asyncio.Queue alone is ~3 KiB, a parked task ~1.5 KiB).

    `eager`: an item handed to an idle lane starts at once, inside `submit`, up to its first
    wait (`sy_calls.start_eagerly`), instead of on the next turn of the event loop behind
    whatever else is ready: a charger CALL is sent on before `submit` returns. The submitter
    pays for that first step (it would pay for it a moment later anyway); items queued behind a
    busy lane run on the lane's task as always.
    """

    def __init__(
        self,
        name: str,
        handler: Callable[[T], Awaitable[None]],
        *,
        max_queued: int = 1000,
        on_drop: Callable[[T], None] | None = None,
        eager: bool = False,
    ) -> None:
        self._name = name
        self._handler = handler
        self._max_queued = max_queued
        self._queue: deque[T] | None = None
        self._on_drop = on_drop
        self._task: asyncio.Future[None] | None = None
        self._running = False  # a runner exists (its task, or its first step still going on)
        self._eager = eager
        self._closed = False
        self._current: T | None = None

    @property
    def queued(self) -> int:
        return len(self._queue) if self._queue else 0

    @property
    def idle(self) -> bool:
        return self._current is None and not self._queue

    async def wait_idle(self, timeout_s: float, poll_s: float = 0.02) -> bool:
        """Wait until nothing is queued or running (e.g. before handing a charger over to
        another replica); False when `timeout_s` passed first."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not self.idle:
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(poll_s)
        return True

    def submit(self, item: T) -> None:
        if self._closed:
            raise LaneClosed(self._name)
        if self._queue is None:
            self._queue = deque()
        elif len(self._queue) >= self._max_queued:
            raise asyncio.QueueFull  # the caller answers "busy"
        self._queue.append(item)
        if self._running:
            return
        self._running = True
        if self._eager:
            # While the first item's first step runs here, a `submit` from inside it only queues.
            task = start_eagerly(self._run(), name=f"lane:{self._name}")
            if self._running:
                self._task = task
        else:
            self._task = asyncio.create_task(self._run(), name=f"lane:{self._name}")

    async def _run(self) -> None:
        queue = self._queue
        try:
            while queue and not self._closed:
                item = queue.popleft()
                self._current = item
                try:
                    await self._handler(item)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("lane %s: handler failed", self._name)
                self._current = None
            if not queue:
                self._queue = None  # idle: keep nothing (the next submit starts afresh)
        finally:
            self._task = None
            self._running = False

    async def close(self) -> None:
        """Stop taking work; items still queued go to `on_drop` so each gets an answer."""
        self._closed = True
        await stop_task(self._task)
        if self._current is not None and self._on_drop is not None:
            self._on_drop(self._current)  # interrupted mid-call: it still needs an answer
        self._current = None
        queue, self._queue = self._queue, None
        while queue:
            item = queue.popleft()
            if self._on_drop is not None:
                self._on_drop(item)
