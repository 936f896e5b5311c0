"""`GET /audit`: the service's audit trail (viewer role)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from sy_platform import audit
from sy_platform.deps import RuntimeDep

router = APIRouter(prefix="/audit", tags=["audit"])


class AuditEntry(BaseModel):
    ts: datetime = Field(description="When the call was made (UTC).")
    service: str = Field(description="The service that served it.")
    actor: str = Field(description="Token name or OIDC subject; 'anonymous' when refused.")
    actor_kind: str = Field(description="token, oidc, bootstrap or none.")
    method: str = Field(description="HTTP method.")
    path: str = Field(description="HTTP path.")
    status: int = Field(description="HTTP status returned (401/403: refused).")
    resource: str = Field(description="What was changed, e.g. route/CP-001.")
    action: str = Field(description="What was done to it, e.g. set, delete, revoke.")
    reason: str = Field(description="Why, as the caller said (--reason in the CLI).")
    before: Any = Field(None, description="The resource before the change (secrets redacted).")
    after: Any = Field(None, description="The resource after the change (secrets redacted).")


@router.get("", response_model=list[AuditEntry], summary="Who changed what, when and why")
async def audit_trail(
    request: Request,
    rt: RuntimeDep,
    since: Annotated[
        datetime | None, Query(description="From this time (ISO 8601 with zone).")
    ] = None,
    actor: Annotated[
        str | None, Query(description="Only calls by this token name or subject.")
    ] = None,
    resource: Annotated[
        str | None, Query(description="Only calls whose resource starts with this.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=5000, description="Most entries to return.")] = 200,
) -> list[dict[str, Any]]:
    if since is not None and since.tzinfo is None:
        raise HTTPException(422, "since needs a timezone, e.g. 2026-11-21T08:00:00Z")
    service: str = request.app.state.service
    entries = await audit.read(rt.js, service, since, limit=5000)
    chosen = [
        e
        for e in entries
        if (actor is None or e["actor"] == actor)
        and (resource is None or str(e["resource"]).startswith(resource))
    ]
    return chosen[-limit:]
