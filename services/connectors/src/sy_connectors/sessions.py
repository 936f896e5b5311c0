"""Upstream sessions: which backend served a charger, from when to when (off the hot path)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from sy_connectors.models import UpstreamSession
from sy_platform.writer import BatchWriter


@dataclass(frozen=True, slots=True)
class Started:
    id: str
    charger_id: str
    backend: str
    url: str
    ocpp: str
    instance: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Ended:
    id: str
    at: datetime


class SessionLog:
    def __init__(self, engine: AsyncEngine, instance: str) -> None:
        self._engine = engine
        self._instance = instance
        self._writer: BatchWriter[Started | Ended] = BatchWriter("upstream-sessions", self._write)

    def started(self, charger_id: str, backend: str, url: str, ocpp: str) -> str:
        session_id = uuid.uuid4().hex
        now = datetime.now(UTC)
        self._writer.put(Started(session_id, charger_id, backend, url, ocpp, self._instance, now))
        return session_id

    def ended(self, session_id: str) -> None:
        self._writer.put(Ended(session_id, datetime.now(UTC)))

    def start(self) -> None:
        self._writer.start()

    async def stop(self) -> None:
        await self._writer.stop()

    async def _write(self, batch: list[Started | Ended]) -> None:
        rows = [
            {
                "id": s.id,
                "charger_id": s.charger_id,
                "backend": s.backend,
                "url": s.url,
                "ocpp": s.ocpp,
                "instance": s.instance,
                "started_at": s.at,
            }
            for s in batch
            if isinstance(s, Started)
        ]
        async with self._engine.begin() as conn:
            if rows:
                await conn.execute(insert(UpstreamSession), rows)
            for e in batch:
                if isinstance(e, Ended):
                    await conn.execute(
                        update(UpstreamSession)
                        .where(UpstreamSession.id == e.id)
                        .values(ended_at=e.at)
                    )
