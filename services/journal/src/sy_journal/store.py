"""Turning stream messages into rows and writing them.

`store_frames` is the one write path, kept apart from the consumer loop so a later version can
swap it for COPY into time partitions without touching ingest.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sy_bus import FrameRecord
from sy_journal.models import Frame

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BIGINT = range(-(2**63), 2**63)
_SMALLINT = range(-(2**15), 2**15)
_TEXT = ("charger_id", "ocpp", "raw", "instance", "connection_id")
_OPTIONAL_TEXT = ("message_id", "action", "backend")

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
    # Postgres text cannot hold NUL; such a value would fail the whole batch on every retry.
    if "\x00" in value:
        raise Unstorable(f"{name} contains a NUL character")


def _int(name: str, value: object, allowed: range) -> None:
    # bool is an int in Python but never a valid sequence, timestamp or message type.
    if not isinstance(value, int) or isinstance(value, bool) or value not in allowed:
        raise Unstorable(f"{name} must be an integer in [{allowed.start}, {allowed.stop})")


def frame_row(stream_seq: int, data: bytes) -> Row:
    """Decode and check one SY_FRAMES message; raise `Unstorable` if it can never be stored.

    FrameRecord is a plain dataclass, so its field types are checked here: a record that decodes
    but cannot be inserted would otherwise fail its batch forever.
    """
    try:
        record = FrameRecord.from_bytes(data)
    except Exception as exc:  # orjson, a missing/extra field or an unknown direction
        raise Unstorable(f"not a FrameRecord: {type(exc).__name__}: {exc}") from exc
    for name in _TEXT:
        _text(name, getattr(record, name))
    for name in _OPTIONAL_TEXT:
        _text(name, getattr(record, name), optional=True)
    _int("ts_ns", record.ts_ns, _BIGINT)
    if record.message_type is not None:
        _int("message_type", record.message_type, _SMALLINT)
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
    }


async def store_frames(sessions: async_sessionmaker[AsyncSession], rows: list[Row]) -> int:
    """Insert the rows in one transaction; return how many were new (redeliveries are skipped)."""
    if not rows:
        return 0
    stmt = (
        insert(Frame)
        .on_conflict_do_nothing(index_elements=[Frame.stream_seq])
        .returning(Frame.stream_seq)
    )
    async with sessions() as session, session.begin():
        stored = (await session.scalars(stmt, rows)).all()
    return len(stored)
