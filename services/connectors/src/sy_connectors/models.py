"""The `connectors` schema: a log of upstream connections (id maps and buffers come later)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sy_platform.db import service_metadata

SCHEMA = "connectors"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class UpstreamSession(Base):
    """One charger's time on one backend (opened when the link starts, closed when it ends)."""

    __tablename__ = "upstream_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    charger_id: Mapped[str] = mapped_column(String(48), index=True)
    backend: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(500))
    ocpp: Mapped[str] = mapped_column(String(16))
    instance: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
