"""Routing-table versions: one per committed change, with who, why, what, and the whole table."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import undefer

from sy_platform import RuntimeDep
from sy_routing import snapshots, table
from sy_routing.api.deps import REASON_DESCRIPTION, RoutingTableDep
from sy_routing.models import Backend, RoutingVersion

log = logging.getLogger(__name__)

router = APIRouter(prefix="/versions", tags=["versions"])

VersionPath = Annotated[int, Path(ge=1, description="The routing-table version.")]


class VersionOut(BaseModel):
    id: int = Field(description="The version number; the data plane sees it in each route value.")
    created_at: datetime = Field(description="When the change was committed (UTC).")
    author: str = Field(description="Who made the change ('boot' when a charger's boot moved it).")
    reason: str = Field(description="Why, as given with the change.")
    change: dict[str, Any] = Field(
        description="What changed: 'op' names the operation; 'before' and 'after' hold values."
    )


class VersionDetailOut(VersionOut):
    snapshot: dict[str, Any] | None = Field(
        description="The whole table after this change (null for versions recorded before"
        " snapshots existed): default, groups, group routes, charger routes, backends used."
    )


class RestoreIn(BaseModel):
    reason: str = Field("", max_length=2000, description=REASON_DESCRIPTION)


class RestoreOut(BaseModel):
    version: int = Field(description="The version the table is at now.")
    restored_from: int = Field(description="The version whose table was restored.")
    changed: bool = Field(description="False when the table already equalled it (no version).")
    moved: list[str] = Field(description="Chargers whose published route changed.")
    backends_changed_since: list[str] = Field(
        description="Backends of the restored table whose definition (URL, credentials...) has"
        " changed since; restore keeps their current definition."
    )


@router.get(
    "", response_model=list[VersionOut], summary="List routing-table versions, newest first"
)
async def list_versions(
    rt: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many versions to return.")] = 50,
) -> list[VersionOut]:
    query = select(RoutingVersion).order_by(RoutingVersion.id.desc()).limit(limit)
    async with rt.sessions() as session:
        rows = (await session.scalars(query)).all()
    return [VersionOut.model_validate(row, from_attributes=True) for row in rows]


@router.get("/{version}", response_model=VersionDetailOut,
            summary="Show one version with the whole table it left",
            responses={404: {"description": "no such version"}})  # fmt: skip
async def get_version(version: VersionPath, rt: RuntimeDep) -> VersionDetailOut:
    async with rt.sessions() as session:
        row = await session.get(RoutingVersion, version, options=[undefer(RoutingVersion.snapshot)])
    if row is None:
        raise HTTPException(404, f"there is no routing-table version {version}")
    return VersionDetailOut.model_validate(row, from_attributes=True)


@router.post(
    "/{version}/restore",
    response_model=RestoreOut,
    summary="Make the routing table what it was at a version (a new version, republished)",
    responses={
        404: {"description": "no such version"},
        409: {"description": "the version cannot be restored (a backend it uses is gone)"},
    },
)
async def restore_version(
    version: VersionPath, body: RestoreIn, routing_table: RoutingTableDep
) -> RestoreOut:
    async with routing_table.change(body.reason) as change:
        session = change.session
        row = await session.get(RoutingVersion, version, options=[undefer(RoutingVersion.snapshot)])
        if row is None:
            raise HTTPException(404, f"there is no routing-table version {version}")
        if row.snapshot is None:
            raise HTTPException(
                409,
                f"version {version} was recorded before snapshots existed; it cannot be restored",
            )
        wanted = row.snapshot
        existing = {b.name: b for b in (await session.scalars(select(Backend))).all()}
        missing = sorted(snapshots.backends_named(wanted) - existing.keys())
        if missing:
            raise HTTPException(
                409,
                f"version {version} routes to backend(s) {', '.join(map(repr, missing))}, deleted"
                " since; register them again (POST /backends) or restore another version",
            )
        changed_since = sorted(
            name
            for name, doc in (wanted.get("backends") or {}).items()
            if snapshots.backend_doc(existing[name]) != doc
        )
        latest = await table.latest_version(session)
        if not snapshots.same_table(await snapshots.take(session), wanted):
            await snapshots.restore(session, wanted)
            change.record(
                {
                    "op": "table.restored",
                    "restored": version,
                    "backends_changed_since": changed_since,
                },
                everything=True,
            )
    now = change.version or latest
    log.info("version %d restored as version %d (%d chargers moved)", version, now,
             len(change.moved))  # fmt: skip
    return RestoreOut(
        version=now,
        restored_from=version,
        changed=bool(change.version),
        moved=change.moved,
        backends_changed_since=changed_since,
    )
