"""upstream sessions

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
        "upstream_sessions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("charger_id", sa.String(48), nullable=False),
        sa.Column("backend", sa.String(64), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("ocpp", sa.String(16), nullable=False),
        sa.Column("instance", sa.String(200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        schema="connectors",
    )
    op.create_index(
        "ix_upstream_sessions_charger_id", "upstream_sessions", ["charger_id"], schema="connectors"
    )


def downgrade() -> None:
    op.drop_table("upstream_sessions", schema="connectors")
