"""The migration service's app factory."""

from __future__ import annotations

from fastapi import FastAPI

from sy_migration.api import plans
from sy_migration.settings import MigrationSettings
from sy_platform import service_app

DESCRIPTION = """Moves groups of chargers between backends in waves: plans, pilot, health gates,
rollback and sign-off. This version serves its schema and health endpoints; waves come next."""


def build_app(settings: MigrationSettings) -> FastAPI:
    return service_app(
        service="migration",
        settings=settings,
        title="Switchyard migration",
        description=DESCRIPTION,
        routers=[plans.router],
    )
