"""One Postgres role per service, owning its own schema only (sy_platform.db_roles), and each
service migrating as that role: no role reads, writes or creates outside its schema."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from sy_devkit.suite import SERVICES
from sy_platform import db_roles


@pytest.fixture(scope="module")
async def database(new_database: Callable[[], str]) -> dict[str, Any]:
    """A database with every service's role set up (twice: it is idempotent) and migrated."""
    admin = new_database()
    roles = [db_roles.default_role(s, f"pw-{s}-{os.getpid()}") for s in SERVICES]
    first = await db_roles.set_up(admin, roles)
    second = await db_roles.set_up(admin, roles)
    urls = {r.service: db_roles.role_url(admin, r) for r in roles}

    def migrate(service: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", f"sy_{service}", "migrate"],
            env={**os.environ, "SY_DATABASE_URL": urls[service], "SY_LOG_FORMAT": "text"},
            capture_output=True,
            text=True,
            timeout=120,
        )

    runs = await asyncio.gather(*(asyncio.to_thread(migrate, s) for s in SERVICES))
    migrated = dict(zip(SERVICES, runs, strict=True))
    return {"admin": admin, "urls": urls, "runs": [first, second], "migrated": migrated}


def test_set_up_says_what_it_did_and_can_run_again(database: dict[str, Any]) -> None:
    for done in database["runs"]:
        assert done == [
            *(f"role sy_{s} owns schema {s}" for s in SERVICES),
            "revoked CREATE on schema public from PUBLIC",
        ]


def test_each_service_migrates_as_its_own_role_without_create_on_the_database(
    database: dict[str, Any],
) -> None:
    for service, run in database["migrated"].items():
        assert run.returncode == 0, f"{service}: {run.stdout}\n{run.stderr}"


async def test_schemas_and_tables_belong_to_their_service_role(database: dict[str, Any]) -> None:
    conn = await asyncpg.connect(database["admin"])
    try:
        owners = dict(
            await conn.fetch(
                "SELECT n.nspname, r.rolname FROM pg_namespace n "
                "JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = ANY($1::text[])",
                list(SERVICES),
            )
        )
        assert owners == {s: f"sy_{s}" for s in SERVICES}
        for service in SERVICES:
            owners_of_tables = await conn.fetch(
                "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = $1", service
            )
            assert [r["tableowner"] for r in owners_of_tables] == [f"sy_{service}"]
        roles = await conn.fetch(
            "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname LIKE 'sy\\_%'"
        )
        assert not any(any(r.values()) for r in roles)
        database_acl = await conn.fetchval(
            "SELECT datacl::text FROM pg_database WHERE datname = current_database()"
        )
        for service in SERVICES:
            assert f"sy_{service}=c/" in database_acl, "CONNECT only, never CREATE"
    finally:
        await conn.close()


async def test_a_service_role_reads_its_own_schema_and_nothing_else(
    database: dict[str, Any],
) -> None:
    edge = await asyncpg.connect(database["urls"]["edge"])
    try:
        assert await edge.fetchval("SELECT current_user") == "sy_edge"
        assert await edge.fetchval("SELECT count(*) FROM edge.alembic_version") == 1
        await edge.execute("CREATE TABLE edge.probe_own (id int)")
        await edge.execute("DROP TABLE edge.probe_own")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await edge.fetch("SELECT * FROM routing.backends")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await edge.execute("CREATE TABLE routing.intruder (id int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await edge.execute("CREATE TABLE public.intruder (id int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await edge.execute("CREATE SCHEMA intruder")
    finally:
        await edge.close()
    for service in SERVICES:
        conn = await asyncpg.connect(database["urls"][service])
        try:
            for other in SERVICES:
                if other != service:
                    with pytest.raises(asyncpg.InsufficientPrivilegeError):
                        await conn.fetch(f'SELECT * FROM "{other}".alembic_version')
        finally:
            await conn.close()


def test_role_urls_keep_the_server_and_database_and_hide_the_password() -> None:
    role = db_roles.ServiceRole("edge", "sy_edge", "p@ss/word:1")
    url = db_roles.role_url("postgresql+asyncpg://postgres@db.internal:6432/switchyard?ssl=1", role)
    assert url == "postgresql+asyncpg://sy_edge:p%40ss%2Fword%3A1@db.internal:6432/switchyard?ssl=1"
    assert "p@ss" not in repr(role)
    with pytest.raises(ValueError, match="identifier"):
        db_roles.quoted('edge"; DROP TABLE x; --')


def test_the_command_the_chart_runs(new_database: Callable[[], str], tmp_path: Path) -> None:
    """`python -m sy_platform.db_roles edge=cli_edge`: the chart's setup Job. The password may
    come from a file (a mounted Secret); no password ever reaches the output, even on failure."""
    admin = new_database()
    (tmp_path / "edge-password").write_text("secret-edge-1\n")
    env = {
        **os.environ,
        "SY_ADMIN_DATABASE_URL": admin,
        "SY_EDGE_DB_PASSWORD_FILE": str(tmp_path / "edge-password"),
    }
    command = [sys.executable, "-m", "sy_platform.db_roles", "edge=cli_edge"]
    runs = [subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)]
    runs.append(subprocess.run(command, env=env, capture_output=True, text=True, timeout=60))
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert run.stdout.splitlines() == [
            "role cli_edge owns schema edge",
            "revoked CREATE on schema public from PUBLIC",
        ]
        assert "secret-edge-1" not in run.stdout + run.stderr

    async def can_log_in() -> None:
        role = db_roles.ServiceRole("edge", "cli_edge", "secret-edge-1")
        conn = await asyncpg.connect(db_roles.role_url(admin, role))
        await conn.close()

    asyncio.run(can_log_in())

    missing = subprocess.run(
        [*command, "routing"], env=env, capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 1
    assert "SY_ROUTING_DB_PASSWORD (or SY_ROUTING_DB_PASSWORD_FILE) is empty" in missing.stderr
    unreachable = subprocess.run(
        command,
        env={**env, "SY_ADMIN_DATABASE_URL": "postgresql://admin:hunter2-admin@127.0.0.1:1/x"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith("database setup failed: ")
    assert "hunter2-admin" not in unreachable.stdout + unreachable.stderr


def test_migrations_still_create_a_missing_schema(new_database: Callable[[], str]) -> None:
    """Without the roles set-up (a superuser URL, e.g. component tests), the schema is made."""
    from sy_platform.migrations import upgrade

    url = new_database()
    upgrade("sy_migration", url)

    async def schemas() -> list[str]:
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch("SELECT nspname FROM pg_namespace WHERE nspname = 'migration'")
            return [r["nspname"] for r in rows]
        finally:
            await conn.close()

    assert asyncio.run(schemas()) == ["migration"]
