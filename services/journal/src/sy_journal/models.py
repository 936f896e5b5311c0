"""The `journal` schema: every captured frame, one row per frame per hop.

Rows are keyed by the SY_FRAMES stream sequence, so a redelivered message is stored once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, SmallInteger, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sy_platform.db import service_metadata

SCHEMA = "journal"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class Frame(Base):
    __tablename__ = "frames"
    __table_args__ = (Index("ix_frames_charger_id_ts_ns", "charger_id", "ts_ns"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    stream_seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    charger_id: Mapped[str] = mapped_column(Text)
    direction: Mapped[str] = mapped_column(Text)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ts_ns: Mapped[int] = mapped_column(BigInteger)
    ocpp: Mapped[str] = mapped_column(Text)
    message_type: Mapped[int | None] = mapped_column(SmallInteger)
    message_id: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str | None] = mapped_column(Text)
    backend: Mapped[str | None] = mapped_column(Text)
    instance: Mapped[str] = mapped_column(Text)
    connection_id: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
