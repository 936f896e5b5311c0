"""What the app factory answers for input the database refuses, and what its OpenAPI says."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from fastapi import APIRouter
from sqlalchemy import text

from sy_devkit.embedded_nats import EmbeddedNats
from sy_devkit.inprocess import app_client
from sy_platform import RuntimeDep, ServiceSettings, service_app


def _router() -> APIRouter:
    router = APIRouter(prefix="/probe", tags=["probe"])

    @router.get("/int")
    async def as_int(n: int, rt: RuntimeDep) -> dict[str, int]:
        async with rt.sessions() as session:
            value = await session.scalar(text("SELECT CAST(:n AS int)"), {"n": n})
        return {"n": int(value)}

    @router.get("/text")
    async def as_text(s: str, rt: RuntimeDep) -> dict[str, str]:
        async with rt.sessions() as session:
            value = await session.scalar(text("SELECT CAST(:s AS text)"), {"s": s})
        return {"s": str(value)}

    @router.get("/broken")
    async def broken(rt: RuntimeDep) -> dict[str, str]:
        async with rt.sessions() as session:
            await session.execute(text("SELECT * FROM no_such_table"))
        return {}

    return router


async def test_values_the_database_refuses_are_the_callers_422(
    nats_server: EmbeddedNats, new_database: Callable[[], str]
) -> None:
    settings = ServiceSettings(nats_url=nats_server.url, database_url=new_database())
    app = service_app(
        service="errprobe", settings=settings, title="t", description="", routers=[_router()]
    )
    async with app_client(app) as client:
        assert (await client.get("/probe/int", params={"n": 7})).json() == {"n": 7}
        too_big = await client.get("/probe/int", params={"n": 2**40})
        assert too_big.status_code == 422, too_big.text
        assert "out of int32 range" in too_big.json()["detail"]
        nul = await client.get("/probe/text", params={"s": "a\x00b"})
        assert nul.status_code == 422, nul.text
        # Our own mistakes stay 500s.
        app_errors = await _status(client, "/probe/broken")
        assert app_errors == 500
        schema = (await client.get("/openapi.json")).json()
    detail = schema["components"]["schemas"]["HTTPValidationError"]["properties"]["detail"]
    assert {"type": "string"} in detail["anyOf"]


async def _status(client: httpx.AsyncClient, path: str) -> int:
    try:
        return (await client.get(path)).status_code
    except Exception:  # ASGITransport re-raises the app's exception by default
        return 500
