"""One app factory: every service is a FastAPI app with /healthz, /readyz and /metrics."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from starlette.middleware.base import RequestResponseEndpoint

from sy_bus import streams
from sy_platform import audit, audit_api
from sy_platform.auth import Authenticator, TokenDirectory, authorize
from sy_platform.auth.oidc import OidcVerifier
from sy_platform.deps import RuntimeDep as RuntimeDep
from sy_platform.deps import get_runtime as get_runtime
from sy_platform.runtime import Runtime, runtime
from sy_platform.settings import ServiceSettings
from sy_platform.telemetry import setup_tracing

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]
# A service's own moving parts: started after NATS and the database, stopped before them.
# It yields extra readiness checks.
Parts = Callable[[Runtime, FastAPI], AbstractAsyncContextManager[dict[str, ReadinessCheck]]]


class Health(BaseModel):
    status: str = Field(description="'ok', or 'unavailable' when a check fails.")
    checks: dict[str, str] = Field(default_factory=dict, description="Result of each check.")


OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/docs", "/openapi.json", "/redoc"})
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


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
            app.state.authenticator = await stack.enter_async_context(_authenticator(rt, settings))
            checks: dict[str, ReadinessCheck] = {
                "nats": rt.check_nats,
                "database": rt.check_database,
            }
            if parts is not None:
                checks.update(await stack.enter_async_context(parts(rt, app)))
            app.state.checks = checks
            yield
            app.state.checks = {}

    app = FastAPI(
        title=title,
        description=description + AUTH_NOTE,
        version=version,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.service = service
    _describe_plain_422(app)
    app.add_exception_handler(DBAPIError, _data_refused)
    app.add_exception_handler(asyncpg.DataError, _data_refused)
    app.include_router(_probes(app))
    guarded = [Depends(authorize)]
    for router in (*routers, audit_api.router):
        app.include_router(router, dependencies=guarded)

    @app.middleware("http")
    async def audit_changes(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        if request.method in MUTATING and request.url.path not in OPEN_PATHS:
            rt: Runtime | None = getattr(request.app.state, "runtime", None)
            if rt is not None:
                await audit.publish(rt.js, audit.record_for(service, request, response.status_code))
        return response

    return app


async def _data_refused(request: Request, exc: Exception) -> Response:
    """A value the database cannot take (SQLSTATE class 22: a number out of range, a NUL in a
    text, ...) came from the caller's input: answer 422, not 500. Anything else is ours: 500."""
    orig = getattr(exc, "orig", exc)
    if not str(getattr(orig, "sqlstate", "")).startswith("22"):
        raise exc
    message = str(getattr(orig, "__cause__", None) or orig).splitlines()[0][:300]
    log.info("%s %s: input refused by the database: %s", request.method, request.url.path, message)
    return JSONResponse({"detail": f"a value cannot be stored or compared: {message}"}, 422)


def _describe_plain_422(app: FastAPI) -> None:
    """Our 422s carry either FastAPI's list of field errors or one sentence (a handler's own
    check, e.g. "'since' must be before 'until'"); say so in the OpenAPI document, so clients and
    schema checks (`make fuzz`) expect both."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        error = schema.get("components", {}).get("schemas", {}).get("HTTPValidationError")
        if error and "detail" in error.get("properties", {}):
            listed = error["properties"]["detail"]
            error["properties"]["detail"] = {
                "anyOf": [listed, {"type": "string"}],
                "title": "Detail",
                "description": "The invalid fields, or one sentence saying what is wrong.",
            }
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


AUTH_NOTE = """

Every endpoint except the probes needs `Authorization: Bearer <token>`: reading needs the
`viewer` role, changing needs `operator`, and backends, credentials and tokens need `admin`.
Every change is recorded in the audit trail (`GET /audit`)."""


@asynccontextmanager
async def _authenticator(rt: Runtime, settings: ServiceSettings) -> AsyncIterator[Authenticator]:
    tokens = TokenDirectory(await rt.js.key_value(streams.API_TOKENS.name))
    await tokens.start()
    oidc = (
        OidcVerifier(
            settings.oidc_jwks_url,
            settings.oidc_issuer,
            settings.oidc_audience,
            settings.oidc_roles_claim,
        )
        if settings.oidc_jwks_url
        else None
    )
    try:
        yield Authenticator(tokens, settings.bootstrap_token_sha256, oidc)
    finally:
        await tokens.stop()
