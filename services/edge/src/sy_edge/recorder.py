"""Connection records written to the `edge` schema off the frame path (a background queue)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from sy_edge.models import Connection
from sy_platform.writer import BatchWriter


@dataclass(frozen=True, slots=True)
class Opened:
    connection_id: str
    charger_id: str
    instance: str
    ocpp: str
    remote: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Closed:
    connection_id: str
    charger_id: str
    code: int | None
    reason: str
    at: datetime


class ConnectionRecorder:
    """Connection opened/closed records, written in batches off the socket's path."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer: BatchWriter[Opened | Closed] = BatchWriter("connection-records", self._write)

    def opened(self, event: Opened) -> None:
        self._writer.put(event)

    def closed(self, connection_id: str, charger_id: str, code: int | None, reason: str) -> None:
        self._writer.put(Closed(connection_id, charger_id, code, reason[:200], datetime.now(UTC)))

    def start(self) -> None:
        self._writer.start()

    async def stop(self) -> None:
        await self._writer.stop()

    async def _write(self, batch: list[Opened | Closed]) -> None:
        opened = [
            {
                "id": e.connection_id,
                "charger_id": e.charger_id,
                "instance": e.instance,
                "ocpp": e.ocpp,
                "remote": e.remote,
                "connected_at": e.at,
            }
            for e in batch
            if isinstance(e, Opened)
        ]
        async with self._engine.begin() as conn:
            if opened:
                await conn.execute(insert(Connection), opened)
            for e in batch:
                if isinstance(e, Closed):
                    await conn.execute(
                        update(Connection)
                        .where(Connection.id == e.connection_id)
                        .values(disconnected_at=e.at, close_code=e.code, close_reason=e.reason)
                    )
