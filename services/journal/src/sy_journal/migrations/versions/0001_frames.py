"""frames

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
        "frames",
        # BigInteger + autoincrement renders BIGSERIAL.
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("stream_seq", sa.BigInteger(), nullable=False),
        sa.Column("charger_id", sa.Text(), nullable=False),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("ocpp", sa.Text(), nullable=False),
        sa.Column("message_type", sa.SmallInteger(), nullable=True),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=True),
        sa.Column("backend", sa.Text(), nullable=True),
        sa.Column("instance", sa.Text(), nullable=False),
        sa.Column("connection_id", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_frames"),
        sa.UniqueConstraint("stream_seq", name="uq_frames_stream_seq"),
        schema="journal",
    )
    op.create_index(
        "ix_frames_charger_id_ts_ns", "frames", ["charger_id", "ts_ns"], schema="journal"
    )


def downgrade() -> None:
    op.drop_index("ix_frames_charger_id_ts_ns", table_name="frames", schema="journal")
    op.drop_table("frames", schema="journal")
