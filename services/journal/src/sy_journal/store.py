"""Turning stream messages into rows, and writing a batch in one transaction.

`write_batch` is the one write path: frames, the events derived from them, status history, the
sessions those events change, and the outbox of events to publish, all in one transaction. Each
table gets `INSERT ... SELECT ... ON CONFLICT DO NOTHING` from the batch's rows sent as one JSON
parameter per table, so a redelivered batch changes nothing and only new events move sessions.
The inserts and the read (and lock) of the sessions to update are one statement, the sessions'
upsert a second: two round trips besides BEGIN and COMMIT. It was thirteen (COPY into staging
tables, then an insert per table): at ~500 frames a batch the journal spent more CPU on the
round trips' socket writes than on the rows.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson

from sy_bus import FrameRecord
from sy_events import ConnectorStatusChanged, EventBase, subject_for, to_json
from sy_events.models import event_type
from sy_events.sessions import Session, fold, transaction_of
from sy_events.text import NUL, escape_nul

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BIGINT = range(-(2**63), 2**63)
_SMALLINT = range(-(2**15), 2**15)
# EVSE and connector ids are integers >= 0 without an upper bound in both OCPP versions'
# schemas (and in the event's); status_history holds them as integer.
_STATUS_IDS = range(0, 2**31)
_TEXT = ("charger_id", "ocpp", "raw", "instance", "connection_id")
_OPTIONAL_TEXT = ("message_id", "action", "backend", "normalized")

Row = dict[str, Any]


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


def _int(name: str, value: object, allowed: range) -> None:
    # bool is an int in Python but never a valid sequence, timestamp or message type.
    if not isinstance(value, int) or isinstance(value, bool) or value not in allowed:
        raise Unstorable(f"{name} must be an integer in [{allowed.start}, {allowed.stop})")


def decode_frame(data: bytes, *, seq: int | None = None) -> FrameRecord:
    """Decode and check one SY_FRAMES message; raise `Unstorable` if it can never be stored.

    FrameRecord is a plain dataclass, so its field types are checked here: a record that decodes
    but cannot be inserted would otherwise fail its batch forever. A NUL character, which
    Postgres text cannot hold (a frame refused as malformed is captured as received; message ids
    and actions are decoded JSON), is stored as the six characters `\\u0000` (`seq`, the stream
    sequence, only names the frame in the warning).
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
    return _without_nul(record, seq)


def _without_nul(record: FrameRecord, seq: int | None) -> FrameRecord:
    changes: dict[str, Any] = {
        name: escape_nul(value)
        for name in (*_TEXT, *_OPTIONAL_TEXT)
        if isinstance(value := getattr(record, name), str) and NUL in value
    }
    if any(NUL in rule for rule in record.rules):
        changes["rules"] = [escape_nul(rule) for rule in record.rules]
    if not changes:
        return record
    log.warning(
        "frame %s of charger %r: NUL character in %s, stored as \\u0000",
        seq,
        record.charger_id,
        ", ".join(changes),
    )
    return dataclasses.replace(record, **changes)


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


def _utc(ts: datetime | None) -> datetime | None:
    """A timestamp for a JSON row: orjson writes an offset in whole minutes (a charger's clock
    may send "+01:00:10"); in UTC the instant is exact to the microsecond, as timestamptz."""
    return None if ts is None else ts.astimezone(UTC)


def event_row(event: EventBase, data: bytes | None = None) -> Row:
    """journal.events' row of an event; `data` is `to_json(event)` when the caller has it. The
    body is the event's JSON as published (`orjson.dumps(event.model_dump(mode="json"))`, what
    the journal stored before, is the same bytes: tests/test_write_batch.py pins both)."""
    return {
        "event_id": event.event_id,
        "ts": _utc(event.ts),
        "type": event_type(type(event)),
        "charger_id": event.charger_id,
        "gateway_transaction_id": transaction_of(event),
        "frame_seq": event.frame_seq,
        "body": orjson.Fragment(to_json(event) if data is None else data),
    }


def status_rows(events: list[EventBase]) -> list[Row]:
    """status_history's rows of the batch's status events; a status naming an EVSE or connector
    id outside 0..2^31-1 gets none (its event is stored as derived), with a warning."""
    rows = []
    for e in events:
        if not isinstance(e, ConnectorStatusChanged):
            continue
        if e.evse_id in _STATUS_IDS and (e.connector_id is None or e.connector_id in _STATUS_IDS):
            rows.append(status_row(e))
        else:
            log.warning(
                "charger %r reported a status for EVSE %d connector %s, not a valid id: event %s "
                "kept, no status history row",
                e.charger_id,
                e.evse_id,
                e.connector_id,
                e.event_id,
            )
    return rows


def status_row(event: ConnectorStatusChanged) -> Row:
    return {
        "event_id": event.event_id,
        "ts": _utc(event.ts),
        "charger_id": event.charger_id or "",
        "evse_id": event.evse_id,
        "connector_id": event.connector_id,
        "status": event.status.value,
        "detail": event.detail.value if event.detail else None,
        "error_code": event.error_code,
        "info": event.info,
        "vendor_error_code": event.vendor_error_code,
        "reported_at": _utc(event.reported_at),
    }


@dataclass
class Written:
    frames: int = 0
    events: list[EventBase] = field(default_factory=list)  # newly stored, to publish


# Frames, events, status history and outbox in, the sessions to update read and locked: one
# statement. Status history and outbox take only the events that are new (not a redelivery's).
# Rows arrive as JSON arrays of objects (orjson writes them in C; an array parameter per column
# costs asyncpg two isinstance checks against ABCs per value); bodies as the events' own JSON.
_WRITE = """
WITH f AS (
    INSERT INTO journal.frames (stream_seq, charger_id, direction, ts, ts_ns, ocpp, message_type,
        message_id, action, backend, instance, connection_id, raw, normalized, rules)
    SELECT * FROM json_to_recordset($1::json) AS r(stream_seq bigint, charger_id text,
        direction text, ts timestamptz, ts_ns bigint, ocpp text, message_type smallint,
        message_id text, action text, backend text, instance text, connection_id text, raw text,
        normalized text, rules text[])
    ON CONFLICT DO NOTHING
    RETURNING 1
), e AS (
    INSERT INTO journal.events (event_id, ts, type, charger_id, gateway_transaction_id,
        frame_seq, body)
    SELECT * FROM json_to_recordset($2::json) AS x(event_id text, ts timestamptz, type text,
        charger_id text, gateway_transaction_id text, frame_seq bigint, body jsonb)
    ON CONFLICT DO NOTHING
    RETURNING event_id
), s AS (
    INSERT INTO journal.status_history (event_id, ts, charger_id, evse_id, connector_id, status,
        detail, error_code, info, vendor_error_code, reported_at)
    SELECT * FROM json_to_recordset($3::json) AS x(event_id text, ts timestamptz,
        charger_id text, evse_id integer, connector_id integer, status text, detail text,
        error_code text, info text, vendor_error_code text, reported_at timestamptz)
    WHERE x.event_id IN (SELECT event_id FROM e)
    ON CONFLICT DO NOTHING
), o AS (
    INSERT INTO journal.event_outbox (event_id, subject, data)
    SELECT x.event_id, x.subject, x.data
    FROM unnest($4::text[], $5::text[], $6::bytea[]) WITH ORDINALITY AS x(event_id, subject,
        data, n)
    WHERE x.event_id IN (SELECT event_id FROM e)
    ORDER BY x.n  -- outbox positions in the order of the events
    ON CONFLICT DO NOTHING
), ss AS (
    SELECT gateway_transaction_id, doc FROM journal.sessions
    WHERE gateway_transaction_id = ANY($7::text[])
    FOR UPDATE
)
SELECT
    (SELECT count(*) FROM f) AS frames,
    ARRAY(SELECT event_id FROM e) AS events,
    ARRAY(SELECT gateway_transaction_id FROM ss ORDER BY 1) AS sessions,
    ARRAY(SELECT doc FROM ss ORDER BY gateway_transaction_id) AS docs
"""

_UPSERT_SESSIONS = """
INSERT INTO journal.sessions AS s (gateway_transaction_id, charger_id, status, started_at,
    stopped_at, first_seen, last_seen, doc)
SELECT * FROM json_to_recordset($1::json) AS x(gateway_transaction_id text, charger_id text,
    status text, started_at timestamptz, stopped_at timestamptz, first_seen timestamptz,
    last_seen timestamptz, doc jsonb)
ON CONFLICT (gateway_transaction_id) DO UPDATE SET status = excluded.status,
    started_at = excluded.started_at, stopped_at = excluded.stopped_at,
    first_seen = excluded.first_seen, last_seen = excluded.last_seen, doc = excluded.doc
"""


async def write_batch(
    conn: asyncpg.Connection, frames: list[Row], events: list[EventBase], *, outbox: bool = True
) -> Written:
    """Store one batch in the caller's transaction (see the module docstring); `frames` are
    `row_of` rows, `outbox=False` stores the events without publishing them."""
    if not frames and not events:
        return Written()
    # Each event serialised once: its row's body and, when new, the message published.
    data = [to_json(e) for e in events]
    published = events if outbox else []
    by_tx = _by_transaction(events)
    row = await conn.fetchrow(
        _WRITE,
        orjson.dumps(frames).decode(),
        orjson.dumps([event_row(e, d) for e, d in zip(events, data, strict=True)]).decode(),
        orjson.dumps(status_rows(events)).decode(),
        [e.event_id for e in published],
        [subject_for(e) for e in published],
        data if outbox else [],
        list(by_tx),
    )
    new_ids = set(row["events"])
    fresh = [e for e in events if e.event_id in new_ids]
    current = {
        gtx: Session.model_validate_json(doc)
        for gtx, doc in zip(row["sessions"], row["docs"], strict=True)
    }
    await _apply_sessions(conn, fresh, current)
    return Written(frames=row["frames"], events=fresh)


def _by_transaction(events: list[EventBase]) -> dict[str, list[EventBase]]:
    by_tx: dict[str, list[EventBase]] = {}
    for e in events:
        gtx = transaction_of(e)
        if gtx is not None:
            by_tx.setdefault(gtx, []).append(e)
    return by_tx


async def _apply_sessions(
    conn: asyncpg.Connection, events: list[EventBase], stored: dict[str, Session]
) -> None:
    """Fold the new events into their sessions (`stored`: as stored, locked) and store them."""
    updated: list[Session] = []
    for gtx, evs in _by_transaction(events).items():
        session = fold(stored.get(gtx), evs)
        if session is not None:
            updated.append(session)
    if not updated:
        return
    rows = [
        {
            "gateway_transaction_id": s.gateway_transaction_id,
            "charger_id": s.charger_id,
            "status": s.status,
            "started_at": _utc(s.started_at),
            "stopped_at": _utc(s.stopped_at),
            "first_seen": _utc(s.first_seen),
            "last_seen": _utc(s.last_seen),
            "doc": orjson.Fragment(s.model_dump_json()),
        }
        for s in updated
    ]
    # One statement for every session of the batch (each transaction id once).
    await conn.execute(_UPSERT_SESSIONS, orjson.dumps(rows).decode())


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
