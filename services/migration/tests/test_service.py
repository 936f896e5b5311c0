"""The migration service starts on its own schema and answers its probes and plan list."""

from collections.abc import Callable

from sy_devkit.embedded_nats import EmbeddedNats
from sy_devkit.inprocess import app_client, migrate
from sy_migration.app import build_app
from sy_migration.settings import MigrationSettings


async def test_ready_with_empty_plan_list(
    nats_server: EmbeddedNats, new_database: Callable[[], str]
) -> None:
    db = new_database()
    await migrate("sy_migration", db)
    app = build_app(MigrationSettings(nats_url=nats_server.url, database_url=db))
    async with app_client(app) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"nats": "ok", "database": "ok"}
        plans = await client.get("/plans")
        assert plans.status_code == 200
        assert plans.json() == []
        metrics = await client.get("/metrics")
        assert "python_info" in metrics.text


async def test_not_ready_before_start(nats_server: EmbeddedNats) -> None:
    app = build_app(MigrationSettings(nats_url=nats_server.url))
    from httpx import ASGITransport, AsyncClient

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://x") as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
