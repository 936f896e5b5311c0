"""The `edge` schema: connections, charger credentials and policies, refused attempts, boots."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, Integer, SmallInteger, String, Text
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


class Credential(Base):
    """A charger's credential: security profile and (profiles 1, 2) its password's KDF hash."""

    __tablename__ = "charger_credentials"

    charger_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    security_profile: Mapped[int] = mapped_column(SmallInteger)
    password_hash: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Policy(Base):
    """Per charger id or id pattern (glob): unauthenticated access, validation, quirk profiles."""

    __tablename__ = "charger_policies"

    selector: Mapped[str] = mapped_column(String(100), primary_key=True)
    allow_unauthenticated: Mapped[bool | None] = mapped_column(Boolean)
    validation: Mapped[str | None] = mapped_column(String(10))
    quirk_profiles: Mapped[str | None] = mapped_column(Text)  # comma-separated names
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuthAttempt(Base):
    """A refused handshake (never the secret)."""

    __tablename__ = "auth_attempts"
    __table_args__ = (Index("ix_auth_attempts_charger_id_at", "charger_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    charger_id: Mapped[str] = mapped_column(String(48))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    remote: Mapped[str] = mapped_column(String(200))
    instance: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(String(200))


class ChargerBoot(Base):
    """What a charger last said about itself in BootNotification (selects its quirk profiles)."""

    __tablename__ = "charger_boots"

    charger_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(255))
    model: Mapped[str] = mapped_column(String(255))
    firmware: Mapped[str | None] = mapped_column(String(255))
    ocpp: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
