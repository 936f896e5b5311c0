"""Partitions ahead of time and retention: every `maintenance_every_s`, and on demand."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

import asyncpg  # type: ignore[import-untyped]
from pydantic import BaseModel, Field

from sy_calls import stop_task
from sy_journal.metrics import PARTITIONS_DROPPED
from sy_journal.partitions import PARTITIONED, Partitions
from sy_journal.settings import JournalSettings

log = logging.getLogger(__name__)


class MaintenanceReport(BaseModel):
    partitions_dropped: list[str] = Field(description="Daily partitions dropped by retention.")
    sessions_deleted: int = Field(description="Sessions deleted by retention.")


class Maintenance:
    def __init__(self, pool: asyncpg.Pool, partitions: Partitions, settings: JournalSettings):
        self._pool = pool
        self._partitions = partitions
        self._settings = settings
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._running = asyncio.Lock()  # the periodic run and an operator's POST, one at a time

    def retention_days(self) -> dict[str, int]:
        s = self._settings
        return {
            "frames": s.retention_frames_days,
            "events": s.retention_events_days,
            "status_history": s.retention_status_days,
        }

    async def run_once(self) -> MaintenanceReport:
        async with self._running:
            return await self._run_once()

    async def _run_once(self) -> MaintenanceReport:
        today = datetime.now(UTC).date()
        days = {
            today + timedelta(days=d) for d in range(-1, self._settings.partitions_ahead_days + 1)
        }
        dropped: list[str] = []
        async with self._pool.acquire() as conn:
            await self._partitions.ensure(conn, PARTITIONED, days)
            for table, keep in self.retention_days().items():
                if keep > 0:
                    gone = await self._partitions.drop_older_than(conn, table, keep)
                    PARTITIONS_DROPPED.labels(table=table).inc(len(gone))
                    dropped += gone
            deleted = 0
            if self._settings.retention_sessions_days > 0:
                cutoff = datetime.now(UTC) - timedelta(days=self._settings.retention_sessions_days)
                status = await conn.execute(
                    "DELETE FROM journal.sessions WHERE last_seen < $1", cutoff
                )
                deleted = int(status.split()[-1])
        if dropped or deleted:
            log.info("retention dropped %s and %d sessions", dropped, deleted)
        return MaintenanceReport(partitions_dropped=dropped, sessions_deleted=deleted)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="journal-maintenance")

    async def stop(self) -> None:
        self._stopping.set()
        await stop_task(self._task)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except Exception as exc:
                log.warning("partition maintenance failed: %r", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stopping.wait(), timeout=self._settings.maintenance_every_s
                )
