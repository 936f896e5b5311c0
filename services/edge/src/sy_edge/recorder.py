"""Connection records written to the `edge` schema off the frame path (a background queue).

One INSERT and one UPDATE per batch whatever its size: when a fleet disconnects at once (a
network cut, a load balancer restart) thousands of connections close together."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from sy_edge.models import SCHEMA, Connection
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


# Every connection of the batch that closed, in one statement.
_CLOSED = text(
    f"UPDATE {SCHEMA}.{Connection.__tablename__} AS c "
    "SET disconnected_at = e.at, close_code = e.code, close_reason = e.reason "
    "FROM unnest(CAST(:ids AS text[]), CAST(:ats AS timestamptz[]), CAST(:codes AS int[]), "
    "CAST(:reasons AS text[])) AS e(id, at, code, reason) "
    "WHERE c.id = e.id"
)


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
        closed = {e.connection_id: e for e in batch if isinstance(e, Closed)}
        async with self._engine.begin() as conn:
            if opened:
                await conn.execute(insert(Connection), opened)
            if closed:
                rows = closed.values()
                await conn.execute(
                    _CLOSED,
                    {
                        "ids": list(closed),
                        "ats": [e.at for e in rows],
                        "codes": [e.code for e in rows],
                        "reasons": [e.reason for e in rows],
                    },
                )
