"""Give every service its own Postgres role, owning its own schema and nothing else.

One implementation for the dev runner (`switchyard run`), the test suite (`sy_devkit.Suite`) and
the chart's database-setup Job, which can run it in any service image as

    python -m sy_platform.db_roles plan.json

with the chart's plan (services, schemas, roles, the variable holding each role's password) and
SY_ADMIN_DATABASE_URL as the admin connection. Safe to run again: existing roles get their
password reset, existing schemas their owner; nothing is dropped.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class ServiceRole:
    service: str
    role: str
    password: str
    schema: str = ""

    @property
    def schema_name(self) -> str:
        return self.schema or self.service

    def __repr__(self) -> str:  # never the password
        return f"ServiceRole({self.service!r}, role={self.role!r}, schema={self.schema_name!r})"


def default_role(service: str, password: str) -> ServiceRole:
    return ServiceRole(service, f"sy_{service}", password)


def quoted(name: str) -> str:
    if not IDENTIFIER.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return f'"{name}"'


def plain_url(url: str) -> str:
    """asyncpg wants postgresql://; operators may hand us SQLAlchemy's postgresql+asyncpg://."""
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if scheme.startswith("postgres") else url


def role_url(admin_url: str, role: ServiceRole) -> str:
    """The admin URL's server and database, as `role` with its password."""
    parts = urlsplit(admin_url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{quote(role.role, safe='')}:{quote(role.password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


async def _set_up_one(
    conn: Any, role: ServiceRole, database: str, *, superuser: bool, create_on_database: bool
) -> None:
    name, schema = quoted(role.role), quoted(role.schema_name)
    if not role.password:
        raise ValueError(f"no password for {role.role}")
    async with conn.transaction():
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role.role):
            await conn.execute(f"CREATE ROLE {name} LOGIN")
        # DDL takes no bind parameters; format() quotes the password as a literal server-side.
        alter = await conn.fetchval(
            "SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', $1::text, $2::text)",
            role.role,
            role.password,
        )
        await conn.execute(alter)
        if not superuser:
            # A non-superuser admin (managed Postgres) may only give a schema to a role it can
            # act as; from Postgres 16 on, creating the role no longer implies that.
            await conn.execute(f"GRANT {name} TO CURRENT_USER")
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {name}")
        await conn.execute(f"ALTER SCHEMA {schema} OWNER TO {name}")
        await conn.execute(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC")
        await conn.execute(f"GRANT CONNECT ON DATABASE {quoted(database)} TO {name}")
        if create_on_database:
            await conn.execute(f"GRANT CREATE ON DATABASE {quoted(database)} TO {name}")
        else:
            # Migrations create their schema only when it is missing, so the role needs no
            # CREATE on the database: it cannot make schemas of its own.
            await conn.execute(f"REVOKE CREATE ON DATABASE {quoted(database)} FROM {name}")


async def set_up(
    admin_url: str,
    roles: Sequence[ServiceRole],
    *,
    revoke_public_create: bool = True,
    create_on_database: bool = False,
) -> list[str]:
    """Create or update every role and schema; what was done, one line each."""
    done = []
    conn = await asyncpg.connect(plain_url(admin_url), timeout=30)
    try:
        database = await conn.fetchval("SELECT current_database()")
        superuser = await conn.fetchval(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        )
        for role in roles:
            await _set_up_one(
                conn,
                role,
                database,
                superuser=bool(superuser),
                create_on_database=create_on_database,
            )
            done.append(f"role {role.role} owns schema {role.schema_name}")
        if revoke_public_create:
            await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            done.append("revoked CREATE on schema public from PUBLIC")
    finally:
        await conn.close()
    return done


def roles_from_plan(plan: dict[str, Any]) -> list[ServiceRole]:
    """The chart's plan.json: services with their role, schema and password variable."""
    roles = []
    for entry in plan["services"]:
        password = os.environ.get(entry["passwordEnv"], "")
        if not password:
            raise ValueError(f"{entry['passwordEnv']} is empty: no password for {entry['role']}")
        roles.append(ServiceRole(entry["service"], entry["role"], password, entry["schema"]))
    return roles


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m sy_platform.db_roles plan.json", file=sys.stderr)
        return 2
    try:
        with open(argv[0]) as f:
            plan = json.load(f)
        done = asyncio.run(
            set_up(
                os.environ["SY_ADMIN_DATABASE_URL"],
                roles_from_plan(plan),
                revoke_public_create=bool(plan.get("revokePublicCreate", True)),
                create_on_database=bool(plan.get("grantCreateOnDatabase", False)),
            )
        )
    except Exception as exc:  # a hook Job reports and exits non-zero; Kubernetes retries it
        print(f"database setup failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for line in done:
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
