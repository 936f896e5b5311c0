"""Exports: sessions, status history, raw frames and events as NDJSON, CSV or Parquet.

Streamed from a server-side cursor inside one read-only REPEATABLE READ transaction (a
consistent snapshot), a few thousand rows at a time, so the service's memory does not grow with
the size of the export.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import asyncpg  # type: ignore[import-untyped]
import orjson
import pyarrow as pa  # type: ignore[import-untyped]
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from sy_journal.api.deps import ChargerFilter, PoolDep, Since, Until, check_window
from sy_journal.export_formats import MEDIA_TYPES, TS, ExportFormat, encode

router = APIRouter(prefix="/exports", tags=["exports"])

PREFETCH = 2000


class ExportKind(StrEnum):
    SESSIONS = "sessions"
    STATUS = "status"
    FRAMES = "frames"
    EVENTS = "events"


SCHEMAS: dict[ExportKind, pa.Schema] = {
    ExportKind.SESSIONS: pa.schema(
        [
            ("gateway_transaction_id", pa.string()),
            ("charger_id", pa.string()),
            ("ocpp", pa.string()),
            ("evse_id", pa.int32()),
            ("connector_id", pa.int32()),
            ("id_token", pa.string()),
            ("id_token_type", pa.string()),
            ("charger_transaction_id", pa.string()),
            ("status", pa.string()),
            ("started_at", TS),
            ("stopped_at", TS),
            ("meter_start_wh", pa.float64()),
            ("meter_stop_wh", pa.float64()),
            ("energy_wh", pa.float64()),
            ("stop_reason", pa.string()),
            ("backends", pa.string()),
            ("backend_transaction_ids", pa.string()),
            ("acknowledgements", pa.string()),
            ("first_seen", TS),
            ("last_seen", TS),
        ]
    ),
    ExportKind.STATUS: pa.schema(
        [
            ("ts", TS),
            ("charger_id", pa.string()),
            ("evse_id", pa.int32()),
            ("connector_id", pa.int32()),
            ("status", pa.string()),
            ("detail", pa.string()),
            ("error_code", pa.string()),
            ("info", pa.string()),
            ("vendor_error_code", pa.string()),
            ("reported_at", TS),
            ("event_id", pa.string()),
        ]
    ),
    ExportKind.FRAMES: pa.schema(
        [
            ("seq", pa.int64()),
            ("ts", TS),
            ("ts_ns", pa.int64()),
            ("charger_id", pa.string()),
            ("direction", pa.string()),
            ("ocpp", pa.string()),
            ("message_type", pa.int16()),
            ("message_id", pa.string()),
            ("action", pa.string()),
            ("backend", pa.string()),
            ("instance", pa.string()),
            ("connection_id", pa.string()),
            ("raw", pa.string()),
            ("normalized", pa.string()),
        ]
    ),
    ExportKind.EVENTS: pa.schema(
        [
            ("event_id", pa.string()),
            ("ts", TS),
            ("type", pa.string()),
            ("charger_id", pa.string()),
            ("gateway_transaction_id", pa.string()),
            ("body", pa.string()),
        ]
    ),
}

# (table, time column, select list, tie-break) per kind
SOURCES = {
    ExportKind.SESSIONS: ("sessions", "first_seen", "doc", "gateway_transaction_id"),
    ExportKind.STATUS: ("status_history", "ts", "*", "event_id"),
    ExportKind.FRAMES: (
        "frames",
        "ts",
        "stream_seq AS seq, ts, ts_ns, charger_id, direction, ocpp, message_type, message_id, "
        "action, backend, instance, connection_id, raw, normalized",
        "stream_seq",
    ),
    ExportKind.EVENTS: (
        "events",
        "ts",
        "event_id, ts, type, charger_id, gateway_transaction_id, body",
        "event_id",
    ),
}


def _session_row(doc: str) -> dict[str, Any]:
    s = orjson.loads(doc)
    row = {name: s.get(name) for name in SCHEMAS[ExportKind.SESSIONS].names}
    for name in ("started_at", "stopped_at", "first_seen", "last_seen"):
        if row[name] is not None:
            row[name] = datetime.fromisoformat(row[name].replace("Z", "+00:00"))
    row["backends"] = ";".join(s.get("backends") or [])
    row["backend_transaction_ids"] = orjson.dumps(s.get("backend_transaction_ids") or {}).decode()
    row["acknowledgements"] = orjson.dumps(s.get("acknowledgements") or {}).decode()
    return row


async def rows(
    pool: asyncpg.Pool,
    kind: ExportKind,
    since: datetime | None,
    until: datetime | None,
    charger_id: str | None,
) -> AsyncIterator[dict[str, Any]]:
    table, column, select, tie = SOURCES[kind]
    clauses, args = [], []
    for sql, value in (
        (f"{column} >= {{}}", since),
        (f"{column} < {{}}", until),
        ("charger_id = {}", charger_id),
    ):
        if value is not None:
            args.append(value)
            clauses.append(sql.format(f"${len(args)}"))
    where = " AND ".join(clauses) or "TRUE"
    query = f"SELECT {select} FROM journal.{table} WHERE {where} ORDER BY {column}, {tie}"
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        async for record in conn.cursor(query, *args, prefetch=PREFETCH):
            if kind is ExportKind.SESSIONS:
                yield _session_row(record["doc"])
            else:
                yield dict(record)


@router.get(
    "/{kind}",
    summary="Stream sessions, status history, raw frames or events as NDJSON, CSV or Parquet",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The rows, oldest first; columns are listed in the service README.",
            "content": {media: {} for media in MEDIA_TYPES.values()},
        }
    },
)
async def export(
    pool: PoolDep,
    kind: ExportKind,
    since: Since = None,
    until: Until = None,
    charger_id: ChargerFilter = None,
    format: Annotated[
        ExportFormat, Query(description="ndjson (one JSON object a line), csv or parquet.")
    ] = ExportFormat.NDJSON,
) -> StreamingResponse:
    check_window(since, until)
    body = encode(rows(pool, kind, since, until, charger_id), SCHEMAS[kind], format)
    name = f"{kind.value}.{format.value}"
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
