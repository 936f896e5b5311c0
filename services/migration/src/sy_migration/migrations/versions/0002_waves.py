"""waves, their transitions, and recorded exports

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "migration"


def _ts(name: str, *, now: bool = False) -> sa.Column:  # type: ignore[type-arg]
    if now:
        return sa.Column(
            name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        )
    return sa.Column(name, sa.DateTime(timezone=True))


def _texts(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False)


def upgrade() -> None:
    op.create_table(
        "waves",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column(
            "plan_id", sa.Uuid(), sa.ForeignKey(f"{SCHEMA}.plans.id", ondelete="RESTRICT")
        ),
        sa.Column("spec", postgresql.JSONB(), nullable=False),
        sa.Column("labels", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("generation", sa.Integer(), server_default="1", nullable=False),
        sa.Column("source", sa.String(16), server_default="api", nullable=False),
        sa.Column("namespace", sa.String(63)),
        sa.Column("phase", sa.String(16), server_default="Draft", nullable=False),
        _ts("phase_since", now=True),
        _texts("members"),
        _texts("moved"),
        _texts("waiting"),
        sa.Column("routing_group", sa.String(64)),
        sa.Column("routing_version_before", sa.Integer()),
        sa.Column("routing_version_rollback", sa.Integer()),
        sa.Column("preflight", postgresql.JSONB(), server_default="[]", nullable=False),
        sa.Column("gates", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("health", sa.String(16), server_default="Unknown", nullable=False),
        sa.Column("message", sa.Text(), server_default="", nullable=False),
        _ts("cutover_started_at"),
        _ts("last_batch_at"),
        _ts("observing_since"),
        _ts("evaluated_at"),
        sa.Column("signed_off_by", sa.String(200)),
        _ts("signed_off_at"),
        sa.Column("signoff_note", sa.Text()),
        sa.Column("created_by", sa.String(200), server_default="", nullable=False),
        _ts("created_at", now=True),
        _ts("updated_at", now=True),
        schema=SCHEMA,
    )
    op.create_table(
        "wave_transitions",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column(
            "wave_id",
            sa.Uuid(),
            sa.ForeignKey(f"{SCHEMA}.waves.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("wave", sa.String(63), nullable=False),
        sa.Column("from_phase", sa.String(16)),
        sa.Column("to_phase", sa.String(16), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("detail", postgresql.JSONB(), server_default="{}", nullable=False),
        _ts("at", now=True),
        schema=SCHEMA,
    )
    op.create_table(
        "exports",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("backend", sa.String(64), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        _ts("since"),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        _ts("created_at", now=True),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("exports", schema=SCHEMA)
    op.drop_table("wave_transitions", schema=SCHEMA)
    op.drop_table("waves", schema=SCHEMA)
