"""The edge replica's heartbeat on `sy.edges.alive.<instance>`: how the connectors learn that a
replica crashed (no "disconnected" presence for its chargers) or restarted under the same id.
Core NATS, no persistence: only replicas that are up speak."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from nats.aio.client import Client

from sy_bus import EdgeAlive, subjects
from sy_calls import stop_task

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(
        self, nc: Client, instance: str, interval_s: float, chargers: Callable[[], int]
    ) -> None:
        self._nc = nc
        self._instance = instance
        self._interval_s = interval_s
        self._chargers = chargers
        self.started_ns = time.time_ns()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="edge-heartbeat")

    async def stop(self) -> None:
        await stop_task(self._task)

    async def _run(self) -> None:
        subject = subjects.edge_alive(self._instance)
        while True:
            beat = EdgeAlive(self._instance, self.started_ns, time.time_ns(), self._chargers())
            try:
                await self._nc.publish(subject, beat.to_bytes())
            except Exception as exc:  # NATS away: the next beat tries again
                log.warning("heartbeat not published: %r", exc)
            await asyncio.sleep(self._interval_s)
