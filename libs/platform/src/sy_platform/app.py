"""One app factory: every service is a FastAPI app with /healthz, /readyz and /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from sy_platform.runtime import Runtime, runtime
from sy_platform.settings import ServiceSettings
from sy_platform.telemetry import setup_tracing

ReadinessCheck = Callable[[], Awaitable[None]]
# A service's own moving parts: started after NATS and the database, stopped before them.
# It yields extra readiness checks.
Parts = Callable[[Runtime, FastAPI], AbstractAsyncContextManager[dict[str, ReadinessCheck]]]


class Health(BaseModel):
    status: str = Field(description="'ok', or 'unavailable' when a check fails.")
    checks: dict[str, str] = Field(default_factory=dict, description="Result of each check.")


def get_runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _probes(app: FastAPI) -> APIRouter:
    probes = APIRouter(tags=["probes"])

    @probes.get("/healthz", response_model=Health, summary="Liveness: the process is up")
    async def healthz() -> Health:
        return Health(status="ok")

    @probes.get(
        "/readyz",
        response_model=Health,
        summary="Readiness: NATS, the database and the service's own parts are usable",
        responses={503: {"model": Health, "description": "at least one check failed"}},
    )
    async def readyz() -> Response:
        checks: dict[str, ReadinessCheck] = getattr(app.state, "checks", {})
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await check()
                results[name] = "ok"
            except Exception as exc:  # a probe reports, it does not raise
                results[name] = f"failing: {exc}"
        ok = bool(checks) and all(v == "ok" for v in results.values())
        body = Health(
            status="ok" if ok else "unavailable", checks=results or {"startup": "pending"}
        )
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

    @probes.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return probes


def service_app(
    *,
    service: str,
    settings: ServiceSettings,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    parts: Parts | None = None,
    version: str = "0.1.0",
) -> FastAPI:
    """A service: runtime (NATS, JetStream, database) + its parts + its routers + probes."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        setup_tracing(service, settings.instance_id, settings.otlp_endpoint)
        async with AsyncExitStack() as stack:
            rt = await stack.enter_async_context(runtime(service, settings))
            app.state.runtime = rt
            checks: dict[str, ReadinessCheck] = {
                "nats": rt.check_nats,
                "database": rt.check_database,
            }
            if parts is not None:
                checks.update(await stack.enter_async_context(parts(rt, app)))
            app.state.checks = checks
            yield
            app.state.checks = {}

    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan)
    app.state.settings = settings
    app.include_router(_probes(app))
    for router in routers:
        app.include_router(router)
    return app
