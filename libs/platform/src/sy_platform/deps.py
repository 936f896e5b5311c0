"""FastAPI dependencies every service's routers use."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sy_platform.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
