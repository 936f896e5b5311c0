"""Waves: apply MigrationWave objects (JSON or the same YAML `kubectl apply -f` takes), follow
them, and the operator's commands: start, rollback, signoff, retry."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import yaml
from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select

from sy_migration import store
from sy_migration.api.deps import OperationsDep
from sy_migration.clients import Unavailable
from sy_migration.lifecycle import EDITABLE, Phase, Refused
from sy_migration.models import Plan, Wave, WaveTransition
from sy_migration.operations import Outcome, plan_name
from sy_migration.spec import manifest_schema, parse_manifests
from sy_migration.transitions import announce
from sy_platform import RuntimeDep
from sy_platform.audit import note
from sy_platform.auth import PrincipalDep

router = APIRouter(prefix="/waves", tags=["waves"])
NamePath = Annotated[str, Path(description="The wave's name (metadata.name).")]
MANIFEST = manifest_schema()
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


class Applied(BaseModel):
    name: str = Field(description="The wave.")
    result: str = Field(description="'created', 'configured' or 'unchanged'.")
    phase: str = Field(description="Its phase now.")


class Command(BaseModel):
    reason: str = Field("", max_length=4000, description="Why (recorded with the transition).")


class SignOff(BaseModel):
    note: str = Field(min_length=1, max_length=4000, description="The sign-off note.")


def _documents(body: bytes, content_type: str) -> list[Any]:
    try:
        if content_type.split(";")[0].strip() in YAML_TYPES:
            return list(yaml.safe_load_all(body))
        doc = orjson.loads(body)
    except (yaml.YAMLError, orjson.JSONDecodeError) as exc:
        raise HTTPException(422, f"the body is not valid YAML/JSON: {exc}") from None
    return doc if isinstance(doc, list) else [doc]


@router.post(
    "/apply",
    response_model=list[Applied],
    summary="Create or update waves from MigrationWave objects (JSON, or YAML with "
    "Content-Type application/yaml; several documents allowed)",
    openapi_extra={
        "requestBody": {
            "description": "One MigrationWave object or a list of them (k8s/crds/"
            "migrationwave.yaml); as YAML, one or several documents.",
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [MANIFEST, {"type": "array", "items": MANIFEST}],
                    }
                },
                "application/yaml": {"schema": {"type": "string"}},
            },
            "required": True,
        }
    },
)
async def apply_waves(request: Request, rt: RuntimeDep, who: PrincipalDep) -> list[Applied]:
    docs = _documents(await request.body(), request.headers.get("content-type", ""))
    try:
        manifests = parse_manifests(docs)
    except ValidationError as exc:
        raise HTTPException(422, _plain(exc)) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    if not manifests:
        raise HTTPException(422, "no MigrationWave object in the body")
    out, moved = [], []
    async with rt.sessions() as session, session.begin():
        for manifest in manifests:
            try:
                wave, result, done = await store.apply(session, manifest, actor=who.name)
            except Refused as exc:
                raise HTTPException(409, str(exc)) from None
            out.append(Applied(name=wave.name, result=result, phase=wave.phase))
            if done is not None:
                moved.append(done)
    for done in moved:
        await announce(rt.js, done, audited=True)
    note(
        request,
        "waves",
        action="apply",
        after=[a.model_dump() for a in out],
        reason="; ".join(f"{a.name} {a.result}" for a in out),
    )
    return out


def _plain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}" if where else err["msg"])
    return "; ".join(parts)


@router.get("", summary="Waves with their status, oldest first")
async def list_waves(
    rt: RuntimeDep,
    plan: Annotated[str | None, Query(description="Only the waves of this plan.")] = None,
) -> list[dict[str, Any]]:
    async with rt.sessions() as session:
        query = select(Wave, Plan.name).outerjoin(Plan, Wave.plan_id == Plan.id)
        if plan is not None:
            query = query.where(Plan.name == plan)
        rows = (await session.execute(query.order_by(Wave.created_at))).all()
    return [store.describe(wave, plan_of) for wave, plan_of in rows]


async def _wave(rt: Any, name: str) -> tuple[Wave, str | None, list[WaveTransition]]:
    async with rt.sessions() as session:
        wave = await session.scalar(select(Wave).where(Wave.name == name))
        if wave is None:
            raise HTTPException(404, f"no wave named '{name}'; create it with POST /waves/apply")
        rows = (
            await session.scalars(
                select(WaveTransition)
                .where(WaveTransition.wave_id == wave.id)
                .order_by(WaveTransition.id)
            )
        ).all()
        return wave, await plan_name(session, wave), list(rows)


@router.get("/{name}", summary="One wave: spec, status, chargers and every transition")
async def get_wave(name: NamePath, rt: RuntimeDep) -> dict[str, Any]:
    wave, plan, rows = await _wave(rt, name)
    out = store.describe(wave, plan)
    out["status"]["members"] = wave.members
    out["status"]["moved"] = wave.moved
    out["transitions"] = [store.transition_doc(r) for r in rows]
    return out


@router.delete(
    "/{name}",
    status_code=204,
    response_class=Response,
    summary="Forget a wave that has not moved chargers (Draft, Ready, RolledBack)",
)
async def delete_wave(
    name: NamePath, rt: RuntimeDep, request: Request, reason: str = ""
) -> Response:
    async with rt.sessions() as session, session.begin():
        wave = await session.scalar(select(Wave).where(Wave.name == name).with_for_update())
        if wave is None:
            raise HTTPException(404, f"no wave named '{name}'")
        if Phase(wave.phase) not in EDITABLE:
            raise HTTPException(409, f"wave {name} is {wave.phase}; roll it back before deleting")
        before = {"phase": wave.phase, "spec": wave.spec}
        await session.delete(wave)
    note(request, f"wave/{name}", action="delete", before=before, reason=reason)
    return Response(status_code=204)


async def _run(
    request: Request, rt: Any, name: str, action: str, reason: str, work: Any
) -> dict[str, Any]:
    try:
        outcome: Outcome = await work
    except LookupError:
        raise HTTPException(404, f"no wave named '{name}'") from None
    except Refused as exc:
        raise HTTPException(409, str(exc)) from None
    except PermissionError as exc:
        raise HTTPException(403, str(exc)) from None
    except Unavailable as exc:
        raise HTTPException(502, str(exc)) from None
    done = outcome.announcement
    if done is not None:
        await announce(rt.js, done, audited=True)
        note(
            request,
            f"wave/{name}",
            action=action,
            before={"phase": done.from_phase},
            after={"phase": done.to_phase},
            reason=reason,
        )
    return await get_wave(name, rt)


@router.post("/{name}/start", summary="Cut a Ready wave over (at its rate, never mid-transaction)")
async def start(
    name: NamePath,
    body: Command,
    rt: RuntimeDep,
    ops: OperationsDep,
    who: PrincipalDep,
    request: Request,
) -> dict[str, Any]:
    work = ops.start(name, actor=who.name, reason=body.reason or "started by operator")
    return await _run(request, rt, name, "start", body.reason, work)


@router.post(
    "/{name}/rollback",
    summary="Route the wave's chargers back now (rollback target or routing version)",
)
async def rollback(
    name: NamePath,
    body: Command,
    rt: RuntimeDep,
    ops: OperationsDep,
    who: PrincipalDep,
    request: Request,
) -> dict[str, Any]:
    work = ops.rollback(name, actor=who.name, reason=body.reason or "rolled back by operator")
    return await _run(request, rt, name, "rollback", body.reason, work)


@router.post("/{name}/signoff", summary="Sign a Passed wave off (its sign-off owner only)")
async def sign_off(
    name: NamePath,
    body: SignOff,
    rt: RuntimeDep,
    ops: OperationsDep,
    who: PrincipalDep,
    request: Request,
) -> dict[str, Any]:
    return await _run(
        request, rt, name, "signoff", body.note, ops.sign_off(name, actor=who.name, note=body.note)
    )


@router.post("/{name}/retry", summary="Take a RolledBack wave back to Draft (pre-flight again)")
async def retry(
    name: NamePath,
    body: Command,
    rt: RuntimeDep,
    ops: OperationsDep,
    who: PrincipalDep,
    request: Request,
) -> dict[str, Any]:
    work = ops.retry(name, actor=who.name, reason=body.reason or "retried by operator")
    return await _run(request, rt, name, "retry", body.reason, work)
