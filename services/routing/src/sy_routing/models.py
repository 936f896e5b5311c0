"""The `routing` schema: backends, the fleet, groups, routes and every routing-table version.

Routes name their backends (primary and shadows) by foreign key with ON DELETE RESTRICT, so a
backend still in use can never disappear from under the data plane, whatever path the delete takes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
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
    """A CSMS the connectors can dial, and how they sign in to it (secrets by reference)."""

    __tablename__ = "backends"
    # Fetch server-side timestamps with RETURNING, so responses carry them without a re-read.
    __mapper_args__ = {"eager_defaults": True}

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    ocpp_versions: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    url_by_version: Mapped[dict[str, str]] = mapped_column(JSONB, server_default="{}")
    auth_kind: Mapped[str] = mapped_column(String(8), server_default="none")
    username: Mapped[str | None] = mapped_column(Text)
    password_ref: Mapped[str | None] = mapped_column(Text)
    cert_ref: Mapped[str | None] = mapped_column(Text)
    key_ref: Mapped[str | None] = mapped_column(Text)
    ca_ref: Mapped[str | None] = mapped_column(Text)
    connect_rate_per_s: Mapped[float | None] = mapped_column(Float)
    call_timeout_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Charger(Base):
    """A charger and what routing can select it by: learned from its BootNotification (vendor,
    model, firmware, OCPP version) or set by an operator (site, criticality, tags)."""

    __tablename__ = "chargers"
    __mapper_args__ = {"eager_defaults": True}

    charger_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    vendor: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    firmware: Mapped[str | None] = mapped_column(String(64))
    ocpp: Mapped[str | None] = mapped_column(String(16))
    booted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    site: Mapped[str | None] = mapped_column(String(64))
    criticality: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default="{}")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Group(Base):
    """Chargers selected by their attributes (`selector`) or listed by id (`members`)."""

    __tablename__ = "groups"
    __table_args__ = (
        CheckConstraint("(selector IS NULL) <> (members IS NULL)", name="selector_or_members"),
    )
    __mapper_args__ = {"eager_defaults": True}

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text, server_default="")
    selector: Mapped[dict[str, list[str]] | None] = mapped_column(JSONB(none_as_null=True))
    members: Mapped[list[str] | None] = mapped_column(ARRAY(String(48)))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Route(Base):
    """One route: the default (one at most), a group's, or a charger's own.

    Precedence when the data plane's key of a charger is computed: its own route, then the
    group routes in `priority` order (lowest first, first group containing it), then the default.
    """

    __tablename__ = "routes"
    __table_args__ = (
        CheckConstraint(
            "(scope = 'default' AND charger_id IS NULL AND group_name IS NULL"
            " AND priority IS NULL)"
            " OR (scope = 'group' AND charger_id IS NULL AND group_name IS NOT NULL"
            " AND priority IS NOT NULL)"
            " OR (scope = 'charger' AND charger_id IS NOT NULL AND group_name IS NULL"
            " AND priority IS NULL)",
            name="scope_fields",
        ),
        Index(
            "uq_routes_default", "scope", unique=True, postgresql_where=text("scope = 'default'")
        ),
        Index("uq_routes_priority", "priority", unique=True),
    )
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(8))
    charger_id: Mapped[str | None] = mapped_column(String(48), unique=True)
    group_name: Mapped[str | None] = mapped_column(
        ForeignKey(Group.name, ondelete="RESTRICT"), unique=True
    )
    priority: Mapped[int | None] = mapped_column(Integer)
    primary_backend: Mapped[str] = mapped_column(
        ForeignKey(Backend.name, ondelete="RESTRICT"), index=True
    )
    # ACL of backend-initiated actions the primary may send: NULL = all.
    primary_commands: Mapped[list[str] | None] = mapped_column(ARRAY(String(64)))
    updated_at: Mapped[datetime] = _updated()

    primary: Mapped[Backend] = relationship(lazy="joined", innerjoin=True)
    shadows: Mapped[list[RouteShadow]] = relationship(
        lazy="selectin",
        order_by="RouteShadow.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class RouteShadow(Base):
    """A backend that receives copies of a route's charger CALLs; its answers never reach the
    charger, and by default it may send no command (`commands` = [])."""

    __tablename__ = "route_shadows"

    route_id: Mapped[int] = mapped_column(
        ForeignKey(Route.id, ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    backend_name: Mapped[str] = mapped_column(
        ForeignKey(Backend.name, ondelete="RESTRICT"), index=True
    )
    commands: Mapped[list[str] | None] = mapped_column(ARRAY(String(64)))

    backend: Mapped[Backend] = relationship(lazy="joined", innerjoin=True)


class PublishedRoute(Base):
    """What the sy-routes bucket holds (or is about to: written in the change's transaction).

    Each change is compared with it, so only keys whose route really changed are rewritten, and
    each key keeps the version at which its value last changed.
    """

    __tablename__ = "published_routes"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    route: Mapped[dict[str, Any]] = mapped_column(JSONB)  # EffectiveRoute without its version
    version: Mapped[int] = mapped_column(Integer)


class RoutingVersion(Base):
    """One committed change to the routing table; its id is the version the data plane sees.

    `change` says what changed; `snapshot` is the whole table after it (default, groups, routes
    and the definitions of the backends they use), so the version can be restored.
    """

    __tablename__ = "routing_versions"
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = _created()
    author: Mapped[str] = mapped_column(Text, server_default="api")
    reason: Mapped[str] = mapped_column(Text, server_default="")
    change: Mapped[dict[str, Any]] = mapped_column(JSONB)
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True), deferred=True)
