"""charger credentials, policies, refused attempts, boots

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "charger_credentials",
        sa.Column("charger_id", sa.String(48), primary_key=True),
        sa.Column("security_profile", sa.SmallInteger(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        schema="edge",
    )
    op.create_table(
        "charger_policies",
        sa.Column("selector", sa.String(100), primary_key=True),
        sa.Column("allow_unauthenticated", sa.Boolean(), nullable=True),
        sa.Column("validation", sa.String(10), nullable=True),
        sa.Column("quirk_profiles", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema="edge",
    )
    op.create_table(
        "auth_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("charger_id", sa.String(48), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remote", sa.String(200), nullable=False),
        sa.Column("instance", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
        schema="edge",
    )
    op.create_index(
        "ix_auth_attempts_charger_id_at", "auth_attempts", ["charger_id", "at"], schema="edge"
    )
    op.create_table(
        "charger_boots",
        sa.Column("charger_id", sa.String(48), primary_key=True),
        sa.Column("vendor", sa.String(255), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("firmware", sa.String(255), nullable=True),
        sa.Column("ocpp", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema="edge",
    )


def downgrade() -> None:
    op.drop_table("charger_boots", schema="edge")
    op.drop_table("auth_attempts", schema="edge")
    op.drop_table("charger_policies", schema="edge")
    op.drop_table("charger_credentials", schema="edge")
