"""The chart's database-setup hooks, run for real against Postgres: the rendered roles script
gives each service a role owning only its schema, then each service migrates as that role, and no
role can reach another service's schema."""

from __future__ import annotations

import asyncio
import json
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


@pytest.fixture(scope="module")
def set_up(
    render: Any, new_database: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Render the chart, run its roles Job script twice, then every service's migrate Job."""
    admin_url = new_database()
    rendered = render({"externalDatabase": {"adminPassword": "unused"}})
    config = rendered.get("ConfigMap", f"{RELEASE}-db-setup")["data"]
    workdir = tmp_path_factory.mktemp("db-setup")
    (workdir / "db_setup.py").write_text(config["db_setup.py"])
    (workdir / "plan.json").write_text(config["plan.json"])
    plan = json.loads(config["plan.json"])

    urls, passwords = {}, {}
    for service in SERVICES:
        secret = rendered.get("Secret", f"{RELEASE}-{service}-db")["stringData"]
        urls[service] = _local(secret["url"], admin_url)
        passwords[service] = secret["password"]
    job_env = {"SY_ADMIN_DATABASE_URL": admin_url}
    job_env |= {e["passwordEnv"]: passwords[e["service"]] for e in plan["services"]}

    runs = [_run([sys.executable, "db_setup.py", "plan.json"], job_env, workdir) for _ in range(2)]
    migrations = {
        service: _run(
            [sys.executable, "-m", f"sy_{service}", "migrate"],
            {"SY_DATABASE_URL": urls[service], "SY_LOG_FORMAT": "text"},
            workdir,
        )
        for service in SERVICES
    }
    return {"admin": admin_url, "urls": urls, "runs": runs, "migrations": migrations}


def test_roles_script_succeeds_and_is_idempotent(set_up: dict[str, Any]) -> None:
    for run in set_up["runs"]:
        assert run.returncode == 0, run.stderr
        for service in SERVICES:
            assert f"role sy_{service} owns schema {service}" in run.stdout


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
                "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
                "WHERE rolname LIKE 'sy\\_%'"
            )
            for role in roles:
                assert not (role["rolsuper"] or role["rolcreaterole"] or role["rolcreatedb"])
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
            finally:
                await conn.close()

    asyncio.run(check())


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
    config = rendered.get("ConfigMap", f"{RELEASE}-db-setup")["data"]
    (tmp_path / "db_setup.py").write_text(config["db_setup.py"])
    (tmp_path / "plan.json").write_text(config["plan.json"])
    env = {"SY_ADMIN_DATABASE_URL": admin_url}
    for entry in json.loads(config["plan.json"])["services"]:
        secret = rendered.get("Secret", f"{RELEASE}-{entry['service']}-db")["stringData"]
        assert secret["url"].startswith(f"postgresql://managed_{entry['service']}:")
        env[entry["passwordEnv"]] = secret["password"]

    run = _run([sys.executable, "db_setup.py", "plan.json"], env, tmp_path)
    assert run.returncode == 0, run.stderr
    migrated = _run(
        [sys.executable, "-m", "sy_routing", "migrate"],
        {
            "SY_DATABASE_URL": _local(
                rendered.get("Secret", f"{RELEASE}-routing-db")["stringData"]["url"], admin_url
            ),
            "SY_LOG_FORMAT": "text",
        },
        tmp_path,
    )
    assert migrated.returncode == 0, migrated.stderr
