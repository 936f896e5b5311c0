"""connections

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("charger_id", sa.String(48), nullable=False),
        sa.Column("instance", sa.String(200), nullable=False),
        sa.Column("ocpp", sa.String(16), nullable=False),
        sa.Column("remote", sa.String(200), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disconnected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_code", sa.Integer(), nullable=True),
        sa.Column("close_reason", sa.String(200), nullable=True),
        schema="edge",
    )
    op.create_index(
        "ix_connections_charger_id_connected_at",
        "connections",
        ["charger_id", "connected_at"],
        schema="edge",
    )


def downgrade() -> None:
    op.drop_table("connections", schema="edge")
