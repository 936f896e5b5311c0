"""What the journal's routes share: the asyncpg pool and the time-window parameters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import asyncpg  # type: ignore[import-untyped]
from fastapi import Depends, HTTPException, Query, Request
from pydantic import AwareDatetime

from sy_journal.store import ns_from_ts


def get_pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


PoolDep = Annotated[asyncpg.Pool, Depends(get_pool)]

Since = Annotated[
    AwareDatetime | None,
    Query(description="At or after this instant; ISO 8601 with a zone (2024-05-01T10:00:00Z)."),
]
Until = Annotated[
    AwareDatetime | None, Query(description="Before this instant; ISO 8601 with a zone.")
]
ChargerFilter = Annotated[str | None, Query(description="Only this charger (its OCPP identity).")]


def check_window(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since >= until:
        raise HTTPException(status_code=422, detail="'since' must be before 'until'")


def clamp_ns(ts: datetime) -> int:
    # Clamped to bigint: a far-off bound like year 9999 means "no bound", not a database error.
    return max(-(2**63), min(ns_from_ts(ts), 2**63 - 1))
