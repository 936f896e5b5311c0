"""The `edge` schema: a record of every charger connection (credentials come later)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sy_platform.db import service_metadata

SCHEMA = "edge"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class Connection(Base):
    __tablename__ = "connections"
    __table_args__ = (
        Index("ix_connections_charger_id_connected_at", "charger_id", "connected_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    charger_id: Mapped[str] = mapped_column(String(48))
    instance: Mapped[str] = mapped_column(String(200))
    ocpp: Mapped[str] = mapped_column(String(16))
    remote: Mapped[str] = mapped_column(String(200))
    connected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disconnected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    close_code: Mapped[int | None]
    close_reason: Mapped[str | None] = mapped_column(String(200))
