"""Give every Switchyard service its own Postgres role, owning its own schema and nothing else.

Run by the chart's database-setup hook Job (in the migration service's image, which ships asyncpg)
before each service migrates its schema as its own role:

    python db_setup.py plan.json

The plan names the services, their schemas and roles, and the environment variable holding each
role's password; SY_ADMIN_DATABASE_URL is the admin connection. Safe to run again: existing roles
get their password reset, existing schemas their owner, nothing is dropped.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from typing import Any

import asyncpg

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def quoted(name: str) -> str:
    if not IDENTIFIER.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return f'"{name}"'


async def setup_service(
    conn: Any, entry: dict[str, str], database: str, *, superuser: bool, create_on_database: bool
) -> None:
    role, schema = quoted(entry["role"]), quoted(entry["schema"])
    password = os.environ.get(entry["passwordEnv"], "")
    if not password:
        raise ValueError(f"{entry['passwordEnv']} is empty: no password for {entry['role']}")
    async with conn.transaction():
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", entry["role"]):
            await conn.execute(f"CREATE ROLE {role} LOGIN")
        # DDL takes no bind parameters; format() quotes the password as a literal server-side.
        alter = await conn.fetchval(
            "SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', $1::text, $2::text)",
            entry["role"],
            password,
        )
        await conn.execute(alter)
        if not superuser:
            # A non-superuser admin (managed Postgres) may only give a schema to a role it can
            # act as; from Postgres 16 on, creating the role no longer implies that.
            await conn.execute(f"GRANT {role} TO CURRENT_USER")
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {role}")
        await conn.execute(f"ALTER SCHEMA {schema} OWNER TO {role}")
        await conn.execute(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC")
        await conn.execute(f"GRANT CONNECT ON DATABASE {quoted(database)} TO {role}")
        if create_on_database:
            # The services' migrations run CREATE SCHEMA IF NOT EXISTS, which Postgres checks
            # against CREATE on the database even when the schema exists. It lets a role create
            # new schemas, never use another service's.
            await conn.execute(f"GRANT CREATE ON DATABASE {quoted(database)} TO {role}")
        else:
            await conn.execute(f"REVOKE CREATE ON DATABASE {quoted(database)} FROM {role}")
    print(f"role {entry['role']} owns schema {entry['schema']}", flush=True)


async def apply(plan: dict[str, Any]) -> None:
    conn = await asyncpg.connect(os.environ["SY_ADMIN_DATABASE_URL"], timeout=30)
    try:
        database = await conn.fetchval("SELECT current_database()")
        superuser = await conn.fetchval(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        )
        for entry in plan["services"]:
            await setup_service(
                conn,
                entry,
                database,
                superuser=bool(superuser),
                create_on_database=bool(plan.get("grantCreateOnDatabase", False)),
            )
        if plan.get("revokePublicCreate", True):
            await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            print("revoked CREATE on schema public from PUBLIC", flush=True)
    finally:
        await conn.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python db_setup.py plan.json", file=sys.stderr)
        sys.exit(2)
    try:
        with open(sys.argv[1]) as f:
            asyncio.run(apply(json.load(f)))
    except Exception as exc:  # a hook Job reports and exits non-zero; Kubernetes retries it
        print(f"database setup failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
    sys.exit(0)
