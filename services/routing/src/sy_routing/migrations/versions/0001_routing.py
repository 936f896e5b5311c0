"""backends, charger routes, the default route and routing-table versions

Revision ID: 0001
Revises:
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "routing"


def _now(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "backends",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("ocpp_versions", postgresql.ARRAY(sa.String(16)), nullable=False),
        _now("created_at"),
        _now("updated_at"),
        schema=SCHEMA,
    )
    op.create_table(
        "charger_routes",
        sa.Column("charger_id", sa.String(48), primary_key=True),
        sa.Column(
            "primary_backend",
            sa.String(64),
            sa.ForeignKey(f"{SCHEMA}.backends.name", ondelete="RESTRICT"),
            nullable=False,
        ),
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
        sa.Column(
            "primary_backend",
            sa.String(64),
            sa.ForeignKey(f"{SCHEMA}.backends.name", ondelete="RESTRICT"),
            nullable=False,
        ),
        _now("updated_at"),
        sa.CheckConstraint("id = 1", name="single_row"),
        schema=SCHEMA,
    )
    op.create_table(
        "routing_versions",
        sa.Column("id", sa.Integer(), primary_key=True),  # SERIAL: the routing-table version
        _now("created_at"),
        sa.Column("author", sa.Text(), server_default="api", nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("change", postgresql.JSONB(), nullable=False),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("routing_versions", schema=SCHEMA)
    op.drop_table("default_route", schema=SCHEMA)
    op.drop_index("ix_routing_charger_routes_primary_backend", "charger_routes", schema=SCHEMA)
    op.drop_table("charger_routes", schema=SCHEMA)
    op.drop_table("backends", schema=SCHEMA)
