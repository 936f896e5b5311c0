"""Turning stream messages into rows, and writing a batch in one transaction with COPY.

`write_batch` is the one write path: frames, the events derived from them, status history, the
sessions those events change, and the outbox of events to publish, all in one transaction. Each
table is filled by COPY into a temporary staging table, then `INSERT ... SELECT ... ON CONFLICT
DO NOTHING RETURNING` so a redelivered batch changes nothing and only new events move sessions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson

from sy_bus import FrameRecord
from sy_events import ConnectorStatusChanged, EventBase, subject_for, to_json
from sy_events.sessions import Session, apply, transaction_of

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BIGINT = range(-(2**63), 2**63)
_SMALLINT = range(-(2**15), 2**15)
_TEXT = ("charger_id", "ocpp", "raw", "instance", "connection_id")
_OPTIONAL_TEXT = ("message_id", "action", "backend", "normalized")

Row = dict[str, Any]

FRAME_COLUMNS = (
    "stream_seq",
    "charger_id",
    "direction",
    "ts",
    "ts_ns",
    "ocpp",
    "message_type",
    "message_id",
    "action",
    "backend",
    "instance",
    "connection_id",
    "raw",
    "normalized",
    "rules",
)
EVENT_COLUMNS = (
    "event_id",
    "ts",
    "type",
    "charger_id",
    "gateway_transaction_id",
    "frame_seq",
    "body",
)
_FRAME_VALUES = itemgetter(*FRAME_COLUMNS)  # a row's values in COPY order, in one C call
STATUS_COLUMNS = (
    "event_id",
    "ts",
    "charger_id",
    "evse_id",
    "connector_id",
    "status",
    "detail",
    "error_code",
    "info",
    "vendor_error_code",
    "reported_at",
)


class Unstorable(ValueError):
    """A stream message that can never become a row; retrying it would block the stream."""


def ts_from_ns(ts_ns: int) -> datetime:
    # Integer arithmetic: a float of nanoseconds since 1970 loses the microseconds.
    return EPOCH + timedelta(microseconds=ts_ns // 1000)


def ns_from_ts(ts: datetime) -> int:
    return (ts - EPOCH) // timedelta(microseconds=1) * 1000


def _text(name: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise Unstorable(f"{name} must be a string, got {type(value).__name__}")
    # Postgres text cannot hold NUL; such a value would fail the whole batch on every retry.
    if "\x00" in value:
        raise Unstorable(f"{name} contains a NUL character")


def _int(name: str, value: object, allowed: range) -> None:
    # bool is an int in Python but never a valid sequence, timestamp or message type.
    if not isinstance(value, int) or isinstance(value, bool) or value not in allowed:
        raise Unstorable(f"{name} must be an integer in [{allowed.start}, {allowed.stop})")


def decode_frame(data: bytes) -> FrameRecord:
    """Decode and check one SY_FRAMES message; raise `Unstorable` if it can never be stored.

    FrameRecord is a plain dataclass, so its field types are checked here: a record that decodes
    but cannot be inserted would otherwise fail its batch forever.
    """
    try:
        record = FrameRecord.from_bytes(data)
    except Exception as exc:  # orjson, a missing/extra field or an unknown direction
        raise Unstorable(f"not a FrameRecord: {type(exc).__name__}: {exc}") from exc
    if _plainly_storable(record):
        return record
    for name in _TEXT:  # say what is wrong
        _text(name, getattr(record, name))
    for name in _OPTIONAL_TEXT:
        _text(name, getattr(record, name), optional=True)
    if not isinstance(record.rules, list):
        raise Unstorable("rules must be a list of strings")
    for rule in record.rules:
        _text("rules[]", rule)
    _int("ts_ns", record.ts_ns, _BIGINT)
    if record.message_type is not None:
        _int("message_type", record.message_type, _SMALLINT)
    return record


def _plainly_storable(r: FrameRecord) -> bool:
    """The common record, checked in two expressions (the per-field checks cost as much as the
    decode): strings without NUL, an in-range timestamp and message type, no rules."""
    t = str
    if not (
        type(r.charger_id) is t
        and type(r.ocpp) is t
        and type(r.raw) is t
        and type(r.instance) is t
        and type(r.connection_id) is t
        and (r.message_id is None or type(r.message_id) is t)
        and (r.action is None or type(r.action) is t)
        and (r.backend is None or type(r.backend) is t)
    ):
        return False
    short = (
        f"{r.charger_id}{r.ocpp}{r.instance}{r.connection_id}{r.message_id}{r.action}{r.backend}"
    )
    return (
        r.normalized is None
        and type(r.rules) is list
        and not r.rules
        and type(r.ts_ns) is int
        and 0 <= r.ts_ns < _BIGINT.stop
        and (r.message_type is None or (type(r.message_type) is int and 0 <= r.message_type < 10))
        and "\x00" not in r.raw
        and "\x00" not in short
    )


def frame_row(stream_seq: int, data: bytes) -> Row:
    return row_of(stream_seq, decode_frame(data))


def row_of(stream_seq: int, record: FrameRecord) -> Row:
    return {
        "stream_seq": stream_seq,
        "charger_id": record.charger_id,
        "direction": record.direction.value,
        "ts": ts_from_ns(record.ts_ns),
        "ts_ns": record.ts_ns,
        "ocpp": record.ocpp,
        "message_type": record.message_type,
        "message_id": record.message_id,
        "action": record.action,
        "backend": record.backend,
        "instance": record.instance,
        "connection_id": record.connection_id,
        "raw": record.raw,
        "normalized": record.normalized,
        "rules": list(record.rules),
    }


def event_record(event: EventBase) -> tuple[Any, ...]:
    body = event.model_dump(mode="json")
    return (
        event.event_id,
        event.ts,
        body["type"],
        event.charger_id,
        transaction_of(event),
        event.frame_seq,
        orjson.dumps(body).decode(),
    )


def status_record(event: ConnectorStatusChanged) -> tuple[Any, ...]:
    return (
        event.event_id,
        event.ts,
        event.charger_id or "",
        event.evse_id,
        event.connector_id,
        event.status.value,
        event.detail.value if event.detail else None,
        event.error_code,
        event.info,
        event.vendor_error_code,
        event.reported_at,
    )


@dataclass
class Written:
    frames: int = 0
    events: list[EventBase] = field(default_factory=list)  # newly stored, to publish


async def _copy_insert(
    conn: asyncpg.Connection,
    table: str,
    columns: Sequence[str],
    records: list[tuple[Any, ...]],
    key: str,
) -> list[Any]:
    """COPY into a per-connection staging table, then insert what is new; returns new keys."""
    if not records:
        return []
    stage = f"stage_{table}"
    await conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} "
        f"(LIKE journal.{table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    await conn.copy_records_to_table(stage, records=records, columns=list(columns))
    cols = ", ".join(columns)
    rows = await conn.fetch(
        f"INSERT INTO journal.{table} ({cols}) SELECT {cols} FROM {stage} "
        f"ON CONFLICT DO NOTHING RETURNING {key}"
    )
    return [r[0] for r in rows]


async def write_batch(
    conn: asyncpg.Connection, frames: list[Row], events: list[EventBase], *, outbox: bool = True
) -> Written:
    """Store one batch in the caller's transaction (see the module docstring)."""
    written = Written()
    frame_records = [_FRAME_VALUES(r) for r in frames]
    written.frames = len(
        await _copy_insert(conn, "frames", FRAME_COLUMNS, frame_records, "stream_seq")
    )
    new_ids = set(
        await _copy_insert(
            conn, "events", EVENT_COLUMNS, [event_record(e) for e in events], "event_id"
        )
    )
    fresh = [e for e in events if e.event_id in new_ids]
    statuses = [status_record(e) for e in fresh if isinstance(e, ConnectorStatusChanged)]
    await _copy_insert(conn, "status_history", STATUS_COLUMNS, statuses, "event_id")
    await _apply_sessions(conn, fresh)
    if fresh and outbox:
        await conn.executemany(
            "INSERT INTO journal.event_outbox (event_id, subject, data) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING",
            [(e.event_id, subject_for(e), to_json(e)) for e in fresh],
        )
    written.events = fresh
    return written


async def _apply_sessions(conn: asyncpg.Connection, events: list[EventBase]) -> None:
    by_tx: dict[str, list[EventBase]] = {}
    for e in events:
        gtx = transaction_of(e)
        if gtx is not None:
            by_tx.setdefault(gtx, []).append(e)
    if not by_tx:
        return
    rows = await conn.fetch(
        "SELECT gateway_transaction_id, doc FROM journal.sessions "
        "WHERE gateway_transaction_id = ANY($1::text[]) FOR UPDATE",
        list(by_tx),
    )
    current = {r[0]: Session.model_validate_json(r[1]) for r in rows}
    updated: list[Session] = []
    for gtx, evs in by_tx.items():
        session = current.get(gtx)
        for e in evs:
            session = apply(session, e)
        if session is not None:
            updated.append(session)
    await conn.executemany(
        """
        INSERT INTO journal.sessions AS s (gateway_transaction_id, charger_id, status, started_at,
            stopped_at, first_seen, last_seen, doc)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
        ON CONFLICT (gateway_transaction_id) DO UPDATE SET status = excluded.status,
            started_at = excluded.started_at, stopped_at = excluded.stopped_at,
            first_seen = excluded.first_seen, last_seen = excluded.last_seen, doc = excluded.doc
        """,
        [
            (
                s.gateway_transaction_id,
                s.charger_id,
                s.status,
                s.started_at,
                s.stopped_at,
                s.first_seen,
                s.last_seen,
                s.model_dump_json(),
            )
            for s in updated
        ],
    )


async def known_transactions(
    conn: asyncpg.Connection, wanted: set[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """(charger, charger's transaction id) -> gateway transaction id, for sessions already stored
    (the normaliser's memory does not survive a restart; sessions last longer)."""
    if not wanted:
        return {}
    chargers = [c for c, _ in wanted]
    txs = [t for _, t in wanted]
    rows = await conn.fetch(
        "SELECT s.charger_id, s.doc->>'charger_transaction_id' AS tx, s.gateway_transaction_id "
        "FROM journal.sessions s JOIN unnest($1::text[], $2::text[]) AS w(charger_id, tx) "
        "ON s.charger_id = w.charger_id AND s.doc->>'charger_transaction_id' = w.tx",
        chargers,
        txs,
    )
    return {(r[0], r[1]): r[2] for r in rows}
