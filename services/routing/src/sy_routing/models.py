"""The `routing` schema: backends, routes and every routing-table version.

Routes name their backend by foreign key with ON DELETE RESTRICT, so a backend still in use can
never disappear from under the data plane, whatever path the delete takes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from sy_platform.db import service_metadata

SCHEMA = "routing"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


def _updated() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), onupdate=func.now())


class Backend(Base):
    """A CSMS the connectors can dial."""

    __tablename__ = "backends"
    # Fetch server-side timestamps with RETURNING, so responses carry them without a re-read.
    __mapper_args__ = {"eager_defaults": True}

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    ocpp_versions: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class ChargerRoute(Base):
    """A charger's own route; chargers without one follow the default route."""

    __tablename__ = "charger_routes"
    __mapper_args__ = {"eager_defaults": True}

    charger_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    primary_backend: Mapped[str] = mapped_column(
        ForeignKey(Backend.name, ondelete="RESTRICT"), index=True
    )
    updated_at: Mapped[datetime] = _updated()

    primary: Mapped[Backend] = relationship(lazy="joined", innerjoin=True)


class DefaultRoute(Base):
    """The route of every charger without its own: one row at most (id is always 1)."""

    __tablename__ = "default_route"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[int] = mapped_column(primary_key=True, default=1, autoincrement=False)
    primary_backend: Mapped[str] = mapped_column(ForeignKey(Backend.name, ondelete="RESTRICT"))
    updated_at: Mapped[datetime] = _updated()

    primary: Mapped[Backend] = relationship(lazy="joined", innerjoin=True)


class RoutingVersion(Base):
    """One committed change to the routing table; its id is the version the data plane sees.

    `change` says what changed. Full-table snapshots for restore will be a further column here.
    """

    __tablename__ = "routing_versions"
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = _created()
    author: Mapped[str] = mapped_column(Text, server_default="api")
    reason: Mapped[str] = mapped_column(Text, server_default="")
    change: Mapped[dict[str, Any]] = mapped_column(JSONB)
