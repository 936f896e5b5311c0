"""The running suite's processes each connect to Postgres as their own role, which can read its
own schema and not another service's."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]
import pytest

from sy_devkit.pytest_plugin import RunningSuite
from sy_devkit.suite import SERVICES


async def test_every_service_process_connects_as_its_own_role(routed: RunningSuite) -> None:
    admin = await asyncpg.connect(routed.database_url)
    try:
        users = {
            r["usename"]
            for r in await admin.fetch(
                "SELECT usename FROM pg_stat_activity WHERE datname = current_database()"
            )
        }
    finally:
        await admin.close()
    assert {f"sy_{s}" for s in SERVICES if s != "migration"} <= users, users
    assert set(routed.suite.database_urls) == set(SERVICES)
    for service, url in routed.suite.database_urls.items():
        assert url.startswith(f"postgresql://sy_{service}:")


async def test_the_edge_role_cannot_read_the_routing_table(routed: RunningSuite) -> None:
    edge = await asyncpg.connect(routed.suite.database_urls["edge"])
    try:
        assert await edge.fetchval("SELECT current_user") == "sy_edge"
        await edge.fetch("SELECT * FROM edge.alembic_version")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await edge.fetch("SELECT * FROM routing.backends")
    finally:
        await edge.close()
    routing = await asyncpg.connect(routed.suite.database_urls["routing"])
    try:
        assert await routing.fetchval("SELECT count(*) FROM routing.backends") >= 1
    finally:
        await routing.close()
