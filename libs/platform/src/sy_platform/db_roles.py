"""Give every service its own Postgres role, owning its own schema and nothing else.

One implementation for the dev runner (`switchyard run`), the test suite (`sy_devkit.Suite`) and
the chart's database-setup Job, which runs it in a service image as

    python -m sy_platform.db_roles [SERVICE[=ROLE] ...] [--grant-create-on-database]

with SY_ADMIN_DATABASE_URL as the admin connection and each role's password in
SY_<SERVICE>_DB_PASSWORD (either may instead name a mounted file: ..._FILE). Safe to run again:
existing roles get their password reset, existing schemas their owner; nothing is dropped.
Passwords are never printed, not even in an error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

from sy_bus import permissions

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


def secret_from_env(name: str, environ: Mapping[str, str] = os.environ) -> str:
    """`name`'s value, or the content of the file `<name>_FILE` points at (a mounted Secret)."""
    value = environ.get(name, "")
    path = environ.get(f"{name}_FILE", "")
    if not value and path:
        value = Path(path).read_text().strip()
    return value


def password_variable(service: str) -> str:
    return f"SY_{service.upper()}_DB_PASSWORD"


def roles_from_args(
    specs: Sequence[str], environ: Mapping[str, str] = os.environ
) -> list[ServiceRole]:
    """`edge` or `edge=sy_edge` (role sy_<service> unless named) for each service; each role's
    password from SY_<SERVICE>_DB_PASSWORD, or the file SY_<SERVICE>_DB_PASSWORD_FILE names."""
    roles = []
    for spec in specs:
        service, _, role = spec.partition("=")
        role = role or f"sy_{service}"
        quoted(service), quoted(role)  # refuse anything that is not a plain identifier
        variable = password_variable(service)
        password = secret_from_env(variable, environ)
        if not password:
            raise ValueError(f"{variable} (or {variable}_FILE) is empty: no password for {role}")
        roles.append(ServiceRole(service, role, password))
    return roles


def _redacted(text: str, secrets: Sequence[str]) -> str:
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***").replace(quote(secret, safe=""), "***")
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sy_platform.db_roles",
        description="Give each service its own Postgres role owning its own schema. Connects "
        "with SY_ADMIN_DATABASE_URL (or the file SY_ADMIN_DATABASE_URL_FILE names); each "
        "role's password comes from SY_<SERVICE>_DB_PASSWORD (or ..._FILE). Safe to rerun.",
    )
    parser.add_argument(
        "services",
        nargs="*",
        metavar="SERVICE[=ROLE]",
        help=f"default: {' '.join(permissions.SERVICES)}, each with role sy_<service>",
    )
    parser.add_argument(
        "--grant-create-on-database",
        action="store_true",
        help="also grant CREATE on the database (the roles could then create new schemas)",
    )
    parser.add_argument(
        "--keep-public-create",
        action="store_true",
        help="leave CREATE on schema public to PUBLIC (revoked by default)",
    )
    return parser


def main(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> int:
    args = _parser().parse_args(argv)
    secrets: list[str] = []
    try:
        admin_url = secret_from_env("SY_ADMIN_DATABASE_URL", environ)
        secrets.append(admin_url)
        secrets.append(urlsplit(admin_url).password or "")
        if not admin_url:
            raise ValueError("SY_ADMIN_DATABASE_URL (or SY_ADMIN_DATABASE_URL_FILE) is empty")
        roles = roles_from_args(args.services or permissions.SERVICES, environ)
        secrets += [r.password for r in roles]
        done = asyncio.run(
            set_up(
                admin_url,
                roles,
                revoke_public_create=not args.keep_public_create,
                create_on_database=args.grant_create_on_database,
            )
        )
    except Exception as exc:  # a hook Job reports and exits non-zero; Kubernetes retries it
        reason = _redacted(f"{type(exc).__name__}: {exc}", secrets)
        print(f"database setup failed: {reason}", file=sys.stderr)
        return 1
    for line in done:
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
