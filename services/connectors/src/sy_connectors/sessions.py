"""Upstream sessions: which backend served a charger, from when to when (off the hot path).

Written in batches, one INSERT and one UPDATE per batch whatever its size: when a fleet
disconnects at once (an edge restart, a network cut) thousands of sessions end together, and a
statement per ended session kept the connectors and Postgres busy long after the storm."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from sy_connectors.models import SCHEMA, UpstreamSession
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


# Every session of the batch that ended, in one statement (a batch is at most a few hundred).
_ENDED = text(
    f"UPDATE {SCHEMA}.{UpstreamSession.__tablename__} AS s SET ended_at = e.at "
    "FROM unnest(CAST(:ids AS text[]), CAST(:ats AS timestamptz[])) AS e(id, at) "
    "WHERE s.id = e.id"
)


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
        ended = {e.id: e.at for e in batch if isinstance(e, Ended)}
        rows = [
            {
                "id": s.id,
                "charger_id": s.charger_id,
                "backend": s.backend,
                "url": s.url,
                "ocpp": s.ocpp,
                "instance": s.instance,
                "started_at": s.at,
                "ended_at": ended.pop(s.id, None),  # started and ended within the batch
            }
            for s in batch
            if isinstance(s, Started)
        ]
        async with self._engine.begin() as conn:
            if rows:
                await conn.execute(insert(UpstreamSession), rows)
            if ended:
                await conn.execute(_ENDED, {"ids": list(ended), "ats": list(ended.values())})
