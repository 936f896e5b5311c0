"""Alembic per service, with the version table inside the service's own schema.

A service keeps its migrations in its package (`sy_<name>/migrations`, so they ship in the image);
its `env.py` is one call to `run_env(metadata)`.
"""

from __future__ import annotations

import asyncio

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData, pool, text
from sqlalchemy.ext.asyncio import create_async_engine

from sy_platform.db import async_url


def upgrade(package: str, database_url: str, revision: str = "head") -> None:
    """Bring the service's schema to `revision` (blocking; run it before the service starts)."""
    cfg = Config()
    cfg.set_main_option("script_location", f"{package}:migrations")
    cfg.set_main_option("sqlalchemy.url", async_url(database_url))
    command.upgrade(cfg, revision)


def run_env(metadata: MetaData) -> None:
    """Body of every service's alembic env.py (online mode only: we always have a database)."""
    schema = metadata.schema
    if not schema:
        raise ValueError("service metadata must name its schema")
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None

    def migrate(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=True,
        )
        with context.begin_transaction():
            # Replicas may start together: one migrates, the others wait, then find nothing to do.
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": schema})
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as conn:
            # Only when missing: CREATE SCHEMA, even IF NOT EXISTS, needs CREATE on the database,
            # which a service's own role (owning its schema, see db_roles) does not have.
            found = await conn.scalar(
                text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}
            )
            if not found:
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await conn.commit()
            await conn.run_sync(migrate)
            await conn.commit()
        await engine.dispose()

    asyncio.run(main())
