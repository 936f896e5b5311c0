"""The chart's database-setup hooks, run for real against Postgres: the roles Job's own command
(`python -m sy_platform.db_roles`, with the arguments and environment the chart renders) gives
each service a role owning only its schema, then each service migrates as that role, and no role
can reach another service's schema or create one."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

SERVICES = ("edge", "routing", "connectors", "journal", "migration")
RELEASE = "switchyard"
IMAGE_PYTHON = "/app/.venv/bin/python"


def _local(url: str, admin_url: str) -> str:
    """The chart's in-cluster URL, pointed at the test server (same user, password, database)."""
    chart, local = urlsplit(url), urlsplit(admin_url)
    netloc = f"{chart.username}:{chart.password}@{local.hostname}:{local.port}"
    return urlunsplit((chart.scheme, netloc, local.path, "", ""))


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _run_container(
    rendered: Any, kind: str, name: str, cwd: Path, **overrides: str
) -> subprocess.CompletedProcess[str]:
    """Run a rendered Job's container here: its command (or the image's entry point,
    `python -m sy_<service>`) and args with this interpreter (the image's holds the same
    workspace), its environment resolved from the rendered Secrets."""
    obj = rendered.get(kind, name)
    (container,) = obj["spec"]["template"]["spec"]["containers"]
    service = container["image"].rsplit("/", 1)[-1].split(":")[0].split("@")[0]
    entrypoint = container.get("command") or [IMAGE_PYTHON, "-m", f"sy_{service}"]
    command = [*entrypoint, *container.get("args", [])]
    assert command[0] == IMAGE_PYTHON
    return _run([sys.executable, *command[1:]], rendered.container_env(container, **overrides), cwd)


def _passwords(rendered: Any) -> list[str]:
    return [rendered.get("Secret", f"{RELEASE}-{s}-db")["stringData"]["password"] for s in SERVICES]


@pytest.fixture(scope="module")
def set_up(
    render: Any, new_database: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Render the chart, run its roles Job twice, then every service's migrate Job."""
    admin_url = new_database()
    rendered = render({"externalDatabase": {"adminPassword": "unused"}})
    workdir = tmp_path_factory.mktemp("db-setup")
    roles_job = f"{RELEASE}-db-roles"
    runs = [
        _run_container(rendered, "Job", roles_job, workdir, SY_ADMIN_DATABASE_URL=admin_url)
        for _ in range(2)
    ]
    urls = {
        service: _local(
            rendered.get("Secret", f"{RELEASE}-{service}-db")["stringData"]["url"], admin_url
        )
        for service in SERVICES
    }
    migrations = {
        service: _run_container(
            rendered,
            "Job",
            f"{RELEASE}-{service}-migrate",
            workdir,
            SY_DATABASE_URL=urls[service],
            SY_LOG_FORMAT="text",
        )
        for service in SERVICES
    }
    return {
        "admin": admin_url,
        "urls": urls,
        "runs": runs,
        "migrations": migrations,
        "passwords": _passwords(rendered),
    }


def test_roles_job_succeeds_is_idempotent_and_prints_no_password(set_up: dict[str, Any]) -> None:
    for run in set_up["runs"]:
        assert run.returncode == 0, run.stderr
        assert run.stdout.splitlines() == [
            *(f"role sy_{service} owns schema {service}" for service in SERVICES),
            "revoked CREATE on schema public from PUBLIC",
        ]
        for password in set_up["passwords"]:
            assert password not in run.stdout + run.stderr


def test_each_service_migrates_as_its_own_role(set_up: dict[str, Any]) -> None:
    for service, run in set_up["migrations"].items():
        assert run.returncode == 0, f"{service}: {run.stdout}\n{run.stderr}"


def test_each_schema_is_owned_by_its_role_and_holds_its_tables(set_up: dict[str, Any]) -> None:
    async def check() -> None:
        conn = await asyncpg.connect(set_up["admin"])
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
                tables = await conn.fetch(
                    "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = $1", service
                )
                names = {t["tablename"] for t in tables}
                assert "alembic_version" in names, service
                assert {t["tableowner"] for t in tables} == {f"sy_{service}"}
            roles = await conn.fetch(
                "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, "
                "has_database_privilege(rolname, current_database(), 'CREATE') AS create_db "
                "FROM pg_roles WHERE rolname LIKE 'sy\\_%'"
            )
            assert {r["rolname"] for r in roles} == {f"sy_{s}" for s in SERVICES}
            for role in roles:
                assert not (role["rolsuper"] or role["rolcreaterole"] or role["rolcreatedb"])
                # grantCreateOnDatabase is off by default: the migrations above did without it.
                assert role["create_db"] is False, role["rolname"]
        finally:
            await conn.close()

    asyncio.run(check())


def test_no_role_reaches_another_services_schema(set_up: dict[str, Any]) -> None:
    async def check() -> None:
        for service in SERVICES:
            conn = await asyncpg.connect(set_up["urls"][service])
            try:
                # Its own schema: full use.
                await conn.execute(f'CREATE TABLE "{service}".probe_own (id int)')
                await conn.execute(f'DROP TABLE "{service}".probe_own')
                for other in SERVICES:
                    if other == service:
                        continue
                    with pytest.raises(asyncpg.InsufficientPrivilegeError):
                        await conn.fetch(f'SELECT * FROM "{other}".alembic_version')
                    with pytest.raises(asyncpg.InsufficientPrivilegeError):
                        await conn.execute(f'CREATE TABLE "{other}".intruder (id int)')
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute("CREATE TABLE public.intruder (id int)")
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(f'CREATE SCHEMA "{service}_extra"')
            finally:
                await conn.close()

    asyncio.run(check())


def test_grant_create_on_database_when_asked(
    render: Any, new_database: Any, tmp_path: Path
) -> None:
    admin_url = new_database()
    rendered = render(
        {
            "externalDatabase": {"adminPassword": "unused"},
            "dbSetup": {"grantCreateOnDatabase": True, "revokePublicCreate": False},
        }
    )
    run = _run_container(
        rendered, "Job", f"{RELEASE}-db-roles", tmp_path, SY_ADMIN_DATABASE_URL=admin_url
    )
    assert run.returncode == 0, run.stderr
    assert "revoked CREATE on schema public" not in run.stdout

    async def may_create() -> bool:
        conn = await asyncpg.connect(admin_url)
        try:
            return bool(
                await conn.fetchval(
                    "SELECT has_database_privilege('sy_edge', current_database(), 'CREATE')"
                )
            )
        finally:
            await conn.close()

    assert asyncio.run(may_create()) is True


def test_a_non_superuser_admin_can_run_the_setup(
    render: Any, new_database: Any, tmp_path: Path
) -> None:
    """Managed Postgres (RDS, Cloud SQL): the admin has CREATEROLE and owns the database only."""
    superuser_url = new_database()
    database = urlsplit(superuser_url).path.lstrip("/")

    async def make_admin() -> None:
        conn = await asyncpg.connect(superuser_url)
        try:
            await conn.execute("CREATE ROLE managed_admin LOGIN CREATEROLE")
            await conn.execute(f'ALTER DATABASE "{database}" OWNER TO managed_admin')
        finally:
            await conn.close()

    asyncio.run(make_admin())
    admin_url = superuser_url.replace("postgres@", "managed_admin@", 1)
    roles = {s: {"database": {"role": f"managed_{s}"}} for s in SERVICES}
    rendered = render({"externalDatabase": {"adminPassword": "unused"}, **roles})
    for service in SERVICES:
        secret = rendered.get("Secret", f"{RELEASE}-{service}-db")["stringData"]
        assert secret["url"].startswith(f"postgresql://managed_{service}:")

    run = _run_container(
        rendered, "Job", f"{RELEASE}-db-roles", tmp_path, SY_ADMIN_DATABASE_URL=admin_url
    )
    assert run.returncode == 0, run.stderr
    assert "role managed_routing owns schema routing" in run.stdout
    routing_url = rendered.get("Secret", f"{RELEASE}-routing-db")["stringData"]["url"]
    migrated = _run_container(
        rendered,
        "Job",
        f"{RELEASE}-routing-migrate",
        tmp_path,
        SY_DATABASE_URL=_local(routing_url, admin_url),
        SY_LOG_FORMAT="text",
    )
    assert migrated.returncode == 0, migrated.stderr
