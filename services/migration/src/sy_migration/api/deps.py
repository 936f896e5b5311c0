"""The migration service's own FastAPI dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from sy_migration.clients import Services
from sy_migration.operations import Operations


def get_operations(request: Request) -> Operations:
    ops: Operations | None = getattr(request.app.state, "operations", None)
    if ops is None:
        raise HTTPException(503, "the migration service is starting")
    return ops


def get_services(request: Request) -> Services:
    return get_operations(request).services


OperationsDep = Annotated[Operations, Depends(get_operations)]
ServicesDep = Annotated[Services, Depends(get_services)]
