"""The `journal` schema (see migrations/versions for the DDL, which partitions by day).

Frames are keyed by their SY_FRAMES stream sequence and events by their event id, so a redelivered
message is stored once. `frames`, `events` and `status_history` are partitioned by day on `ts`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary, SmallInteger, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sy_platform.db import service_metadata

SCHEMA = "journal"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class Frame(Base):
    __tablename__ = "frames"

    stream_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    charger_id: Mapped[str] = mapped_column(Text)
    direction: Mapped[str] = mapped_column(Text)
    ts_ns: Mapped[int] = mapped_column(BigInteger)
    ocpp: Mapped[str] = mapped_column(Text)
    message_type: Mapped[int | None] = mapped_column(SmallInteger)
    message_id: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str | None] = mapped_column(Text)
    backend: Mapped[str | None] = mapped_column(Text)
    instance: Mapped[str] = mapped_column(Text)
    connection_id: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    normalized: Mapped[str | None] = mapped_column(Text)
    rules: Mapped[list[str]] = mapped_column(ARRAY(Text))


class EventRow(Base):
    __tablename__ = "events"

    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    type: Mapped[str] = mapped_column(Text)
    charger_id: Mapped[str | None] = mapped_column(Text)
    gateway_transaction_id: Mapped[str | None] = mapped_column(Text)
    frame_seq: Mapped[int | None] = mapped_column(BigInteger)
    body: Mapped[dict[str, Any]] = mapped_column(JSONB)


class StatusRow(Base):
    __tablename__ = "status_history"

    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    charger_id: Mapped[str] = mapped_column(Text)
    evse_id: Mapped[int] = mapped_column(Integer)
    connector_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(Text)
    info: Mapped[str | None] = mapped_column(Text)
    vendor_error_code: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SessionRow(Base):
    __tablename__ = "sessions"

    gateway_transaction_id: Mapped[str] = mapped_column(Text, primary_key=True)
    charger_id: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    doc: Mapped[dict[str, Any]] = mapped_column(JSONB)


class OutboxRow(Base):
    __tablename__ = "event_outbox"

    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, autoincrement=True)
    subject: Mapped[str] = mapped_column(Text)
    data: Mapped[bytes] = mapped_column(LargeBinary)
