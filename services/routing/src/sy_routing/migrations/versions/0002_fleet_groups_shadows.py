"""backend credentials and limits, chargers, groups, routes with shadows, snapshots

Moves the default route and the charger routes of 0001 into one `routes` table (scope default,
group or charger) with shadows beside it, so every route has the same shape and every backend
it names is held by a foreign key.

Revision ID: 0002
Revises: 0001
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "routing"


def _now(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _backend_fk(name: str) -> sa.Column[str]:
    return sa.Column(
        name,
        sa.String(64),
        sa.ForeignKey(f"{SCHEMA}.backends.name", ondelete="RESTRICT"),
        nullable=False,
    )


def upgrade() -> None:
    add: list[sa.Column[object]] = [
        sa.Column("url_by_version", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("auth_kind", sa.String(8), server_default="none", nullable=False),
        sa.Column("username", sa.Text()),
        sa.Column("password_ref", sa.Text()),
        sa.Column("cert_ref", sa.Text()),
        sa.Column("key_ref", sa.Text()),
        sa.Column("ca_ref", sa.Text()),
        sa.Column("connect_rate_per_s", sa.Float()),
        sa.Column("call_timeout_s", sa.Float()),
    ]
    for column in add:
        op.add_column("backends", column, schema=SCHEMA)

    op.create_table(
        "chargers",
        sa.Column("charger_id", sa.String(48), primary_key=True),
        sa.Column("vendor", sa.String(64)),
        sa.Column("model", sa.String(64)),
        sa.Column("firmware", sa.String(64)),
        sa.Column("ocpp", sa.String(16)),
        sa.Column("booted_at", sa.DateTime(timezone=True)),
        sa.Column("site", sa.String(64)),
        sa.Column("criticality", sa.String(64)),
        sa.Column("tags", postgresql.ARRAY(sa.String(64)), server_default="{}", nullable=False),
        _now("created_at"),
        _now("updated_at"),
        schema=SCHEMA,
    )
    op.create_table(
        "groups",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("selector", postgresql.JSONB()),
        sa.Column("members", postgresql.ARRAY(sa.String(48))),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint("(selector IS NULL) <> (members IS NULL)", name="selector_or_members"),
        schema=SCHEMA,
    )
    op.create_table(
        "routes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("charger_id", sa.String(48), unique=True),
        sa.Column(
            "group_name",
            sa.String(64),
            sa.ForeignKey(f"{SCHEMA}.groups.name", ondelete="RESTRICT"),
            unique=True,
        ),
        sa.Column("priority", sa.Integer()),
        _backend_fk("primary_backend"),
        sa.Column("primary_commands", postgresql.ARRAY(sa.String(64))),
        _now("updated_at"),
        sa.CheckConstraint(
            "(scope = 'default' AND charger_id IS NULL AND group_name IS NULL"
            " AND priority IS NULL)"
            " OR (scope = 'group' AND charger_id IS NULL AND group_name IS NOT NULL"
            " AND priority IS NOT NULL)"
            " OR (scope = 'charger' AND charger_id IS NOT NULL AND group_name IS NULL"
            " AND priority IS NULL)",
            name="scope_fields",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "uq_routes_default",
        "routes",
        ["scope"],
        unique=True,
        postgresql_where=sa.text("scope = 'default'"),
        schema=SCHEMA,
    )
    op.create_index("uq_routes_priority", "routes", ["priority"], unique=True, schema=SCHEMA)
    op.create_index(
        "ix_routing_routes_primary_backend", "routes", ["primary_backend"], schema=SCHEMA
    )
    op.create_table(
        "route_shadows",
        sa.Column(
            "route_id",
            sa.Integer(),
            sa.ForeignKey(f"{SCHEMA}.routes.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer(), primary_key=True),
        _backend_fk("backend_name"),
        sa.Column("commands", postgresql.ARRAY(sa.String(64))),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_routing_route_shadows_backend_name", "route_shadows", ["backend_name"], schema=SCHEMA
    )
    op.create_table(
        "published_routes",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("route", postgresql.JSONB(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        schema=SCHEMA,
    )
    op.add_column("routing_versions", sa.Column("snapshot", postgresql.JSONB()), schema=SCHEMA)

    op.execute(
        f"INSERT INTO {SCHEMA}.routes (scope, primary_backend, updated_at)"
        f" SELECT 'default', primary_backend, updated_at FROM {SCHEMA}.default_route"
    )
    op.execute(
        f"INSERT INTO {SCHEMA}.routes (scope, charger_id, primary_backend, updated_at)"
        f" SELECT 'charger', charger_id, primary_backend, updated_at FROM {SCHEMA}.charger_routes"
    )
    op.drop_table("default_route", schema=SCHEMA)
    op.drop_index("ix_routing_charger_routes_primary_backend", "charger_routes", schema=SCHEMA)
    op.drop_table("charger_routes", schema=SCHEMA)


def downgrade() -> None:
    """Back to 0001: group routes, shadows, ACLs, the fleet and snapshots are dropped."""
    op.create_table(
        "charger_routes",
        sa.Column("charger_id", sa.String(48), primary_key=True),
        _backend_fk("primary_backend"),
        _now("updated_at"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_routing_charger_routes_primary_backend",
        "charger_routes",
        ["primary_backend"],
        schema=SCHEMA,
    )
    op.create_table(
        "default_route",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        _backend_fk("primary_backend"),
        _now("updated_at"),
        sa.CheckConstraint("id = 1", name="single_row"),
        schema=SCHEMA,
    )
    op.execute(
        f"INSERT INTO {SCHEMA}.default_route (id, primary_backend, updated_at)"
        f" SELECT 1, primary_backend, updated_at FROM {SCHEMA}.routes WHERE scope = 'default'"
    )
    op.execute(
        f"INSERT INTO {SCHEMA}.charger_routes (charger_id, primary_backend, updated_at)"
        f" SELECT charger_id, primary_backend, updated_at FROM {SCHEMA}.routes"
        " WHERE scope = 'charger'"
    )
    op.drop_column("routing_versions", "snapshot", schema=SCHEMA)
    op.drop_table("published_routes", schema=SCHEMA)
    op.drop_table("route_shadows", schema=SCHEMA)
    op.drop_table("routes", schema=SCHEMA)
    op.drop_table("groups", schema=SCHEMA)
    op.drop_table("chargers", schema=SCHEMA)
    for column in (
        "url_by_version", "auth_kind", "username", "password_ref", "cert_ref", "key_ref",
        "ca_ref", "connect_rate_per_s", "call_timeout_s",
    ):  # fmt: skip
        op.drop_column("backends", column, schema=SCHEMA)
