"""Decommission evidence for a backend, and the exports that preserve its history."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select

from sy_migration import evidence
from sy_migration.api.deps import ServicesDep
from sy_migration.clients import Unavailable
from sy_migration.models import Export
from sy_platform import RuntimeDep
from sy_platform.audit import note
from sy_platform.auth import PrincipalDep

router = APIRouter(prefix="/evidence", tags=["evidence"])
Kind = Literal["sessions", "events", "status"]


def _all_kinds() -> list[Kind]:
    return ["sessions", "events", "status"]


class ExportIn(BaseModel):
    kinds: list[Kind] = Field(
        default_factory=_all_kinds,
        description="What to export from the journal.",
    )
    since: AwareDatetime | None = Field(None, description="From (default: everything kept).")
    reason: str = Field("", max_length=2000, description="Why (audited).")


def _doc(row: Export) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "kind": row.kind,
        "since": row.since.isoformat() if row.since else None,
        "until": row.until.isoformat(),
        "rows": row.rows,
        "bytes": row.bytes,
        "sha256": row.sha256,
        "location": row.location,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }


async def _exports(rt: Any, backend: str) -> list[dict[str, Any]]:
    async with rt.sessions() as session:
        rows = (
            await session.scalars(
                select(Export).where(Export.backend == backend).order_by(Export.created_at)
            )
        ).all()
    return [_doc(r) for r in rows]


@router.get(
    "/{backend}",
    summary="Evidence that a backend can be decommissioned (JSON or Markdown)",
    responses={200: {"content": {"application/json": {}, "text/markdown": {}}}},
)
async def get_evidence(
    backend: str,
    rt: RuntimeDep,
    services: ServicesDep,
    format: Annotated[Literal["json", "md"], Query(description="json or md (Markdown).")] = "json",
) -> Response:
    try:
        found = await evidence.gather(services, backend, await _exports(rt, backend))
    except Unavailable as exc:
        raise HTTPException(502, str(exc)) from None
    if format == "md":
        return PlainTextResponse(evidence.render_markdown(found), media_type="text/markdown")
    from fastapi.responses import JSONResponse

    return JSONResponse(found)


@router.get("/{backend}/exports", summary="Exports recorded for a backend")
async def list_exports(backend: str, rt: RuntimeDep) -> list[dict[str, Any]]:
    return await _exports(rt, backend)


@router.post(
    "/{backend}/exports",
    status_code=201,
    summary="Export the journal's history now (NDJSON files with SHA-256) and record it",
)
async def run_export(
    backend: str,
    body: ExportIn,
    rt: RuntimeDep,
    services: ServicesDep,
    who: PrincipalDep,
    request: Request,
) -> list[dict[str, Any]]:
    settings = request.app.state.settings
    until = datetime.now(UTC)
    folder = Path(settings.export_dir) / backend
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for kind in body.kinds:
        path = folder / f"{kind}-{until.strftime('%Y%m%dT%H%M%SZ')}.ndjson"
        digest, rows, size = hashlib.sha256(), 0, 0
        try:
            async with services.export(kind, body.since, until) as response:
                with path.open("wb") as out:
                    async for chunk in response.aiter_bytes():
                        out.write(chunk)
                        digest.update(chunk)
                        rows += chunk.count(b"\n")
                        size += len(chunk)
        except Unavailable as exc:
            raise HTTPException(502, str(exc)) from None
        row = Export(
            backend=backend,
            kind=kind,
            since=body.since,
            until=until,
            rows=rows,
            bytes=size,
            sha256=digest.hexdigest(),
            location=str(path.resolve()),
            created_by=who.name,
            created_at=until,
        )
        async with rt.sessions() as session, session.begin():
            session.add(row)
        made.append(_doc(row))
    note(request, f"evidence/{backend}/exports", action="export", after=made, reason=body.reason)
    return made
