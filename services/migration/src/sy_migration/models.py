"""The `migration` schema: plans, their waves, every wave transition, and recorded exports."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sy_platform.db import service_metadata

SCHEMA = "migration"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class Plan(Base):
    __tablename__ = "plans"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    note: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Wave(Base):
    """One wave: its spec (the MigrationWave object's), where it is in its lifecycle, which
    chargers it moved, and what the controller saw last."""

    __tablename__ = "waves"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    plan_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey(f"{SCHEMA}.plans.id", ondelete="RESTRICT")
    )
    spec: Mapped[dict[str, Any]] = mapped_column(JSONB)
    labels: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str] = mapped_column(String(16), default="api")
    namespace: Mapped[str | None] = mapped_column(String(63))
    phase: Mapped[str] = mapped_column(String(16), default="Draft")
    phase_since: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    members: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    moved: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    waiting: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    routing_group: Mapped[str | None] = mapped_column(String(64))
    routing_version_before: Mapped[int | None] = mapped_column(Integer)
    routing_version_rollback: Mapped[int | None] = mapped_column(Integer)
    preflight: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    gates: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    health: Mapped[str] = mapped_column(String(16), default="Unknown")
    message: Mapped[str] = mapped_column(Text, default="")
    cutover_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_batch_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    observing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    evaluated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    signed_off_by: Mapped[str | None] = mapped_column(String(200))
    signed_off_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    signoff_note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class WaveTransition(Base):
    """Who moved a wave from one phase to another, when and why."""

    __tablename__ = "wave_transitions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    wave_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.waves.id", ondelete="CASCADE"), index=True
    )
    wave: Mapped[str] = mapped_column(String(63))
    from_phase: Mapped[str | None] = mapped_column(String(16))
    to_phase: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Export(Base):
    """Historical data of a backend's period exported from the journal (decommission evidence)."""

    __tablename__ = "exports"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    backend: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rows: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    location: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
