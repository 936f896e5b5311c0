"""The migration service's app factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI

from sy_migration import kube
from sy_migration.api import estate, evidence, plans, waves
from sy_migration.clients import Services
from sy_migration.controller import Controller
from sy_migration.operations import Operations
from sy_migration.settings import MigrationSettings
from sy_platform import Runtime, service_app
from sy_platform.app import ReadinessCheck

log = logging.getLogger(__name__)

DESCRIPTION = """Moves groups of chargers between backends in waves: plans with a pilot and
ordered waves, pre-flight checks on the shadow run, rate-limited cutover that never switches a
charger mid-transaction, health gates from the journal, automatic or one-command rollback,
sign-off by a named owner, the estate map, and decommission evidence for a backend. Waves are
`MigrationWave` objects: the same YAML works here, in the CLI and in Kubernetes."""


def build_app(settings: MigrationSettings) -> FastAPI:
    @asynccontextmanager
    async def parts(rt: Runtime, app: FastAPI) -> AsyncIterator[dict[str, ReadinessCheck]]:
        services = Services(settings)
        operations = Operations(rt, services)
        app.state.operations = operations
        tasks: list[asyncio.Task[None]] = []
        if settings.service_token is None:
            log.warning(
                "SY_SERVICE_TOKEN is not set: the wave controller does not run on this "
                "replica (the API still answers)"
            )
        else:
            controller = Controller(rt, operations, settings.controller_interval_s)
            tasks.append(asyncio.create_task(controller.run(), name="wave-controller"))
            if kube.enabled(settings):
                cluster = kube.Cluster.in_pod(settings)
                tasks.append(asyncio.create_task(kube.run(cluster, rt, operations, controller)))
        try:
            yield {}
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with suppress(asyncio.CancelledError, Exception):
                    await task
            await services.close()

    return service_app(
        service="migration",
        settings=settings,
        title="Switchyard migration",
        description=DESCRIPTION,
        routers=[plans.router, waves.router, estate.router, evidence.router],
        parts=parts,
    )
