"""Charger credentials: add, rotate, revoke, list; and refused attempts. Admin-only routes.

A password is returned once, in the answer to add or rotate, and never again: only its scrypt
hash is stored, and nothing here logs it. Every change is announced on `sy.ctl.<charger>` so
each edge replica forgets what it cached (and the holder of a revoked charger disconnects it).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from sy_bus import subjects
from sy_edge.auth import passwords
from sy_edge.control import Control
from sy_edge.handshake import MAX_CHARGER_ID
from sy_edge.models import AuthAttempt, Credential
from sy_platform.app import RuntimeDep
from sy_platform.auth import Role, require_role

router = APIRouter(
    prefix="/credentials",
    tags=["credentials"],
    dependencies=[Depends(require_role(Role.ADMIN))],
)
ChargerId = Annotated[str, Path(min_length=1, max_length=MAX_CHARGER_ID)]


class NewCredential(BaseModel):
    charger_id: str = Field(min_length=1, max_length=MAX_CHARGER_ID, pattern=r"^[^:/\s]+$")
    password: str | None = Field(
        None,
        description="16-40 printable ASCII characters (A00.FR.205); generated when omitted.",
    )
    security_profile: int = Field(
        1, ge=1, le=3, description="1: Basic over ws, 2: TLS + Basic, 3: TLS client certificate."
    )


class Rotate(BaseModel):
    password: str | None = Field(None, description="The new password; generated when omitted.")


class CredentialView(BaseModel):
    charger_id: str
    security_profile: int
    has_password: bool
    version: int = Field(description="Grows by one on every rotation.")
    created_at: datetime
    updated_at: datetime
    revoked_at: datetime | None


class IssuedCredential(CredentialView):
    password: str | None = Field(
        description="The password, shown this once. Set it as the charger's AuthorizationKey."
    )


class Attempt(BaseModel):
    charger_id: str
    at: datetime
    remote: str
    instance: str
    reason: str
    detail: str


def _view(row: Credential) -> CredentialView:
    return CredentialView(
        charger_id=row.charger_id,
        security_profile=row.security_profile,
        has_password=row.password_hash is not None,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        revoked_at=row.revoked_at,
    )


def _password(chosen: str | None, profile: int) -> str | None:
    if chosen is None:
        return None if profile == 3 else passwords.generate()
    problem = passwords.check_chosen(chosen)
    if problem:
        raise HTTPException(422, problem)
    return chosen


async def _announce(request: Request, charger_id: str, reason: str) -> None:
    rt = request.app.state.runtime
    control = Control(
        "credentials", charger_id, rt.settings.instance_id, "", time.time_ns(), reason
    )
    await rt.nc.publish(subjects.control(charger_id), control.to_bytes())
    request.app.state.edge.access.forget(charger_id)


@router.post(
    "",
    status_code=201,
    response_model=IssuedCredential,
    summary="Give a charger credentials (the password is shown once)",
)
async def add(body: NewCredential, rt: RuntimeDep, request: Request) -> IssuedCredential:
    password = _password(body.password, body.security_profile)
    now = datetime.now(UTC)
    async with rt.sessions() as db, db.begin():
        existing = await db.get(Credential, body.charger_id)
        if existing is not None and existing.revoked_at is None:
            raise HTTPException(
                409, f"charger {body.charger_id} already has credentials; rotate or revoke them"
            )
        if existing is not None:
            await db.delete(existing)
            await db.flush()
        row = Credential(
            charger_id=body.charger_id,
            security_profile=body.security_profile,
            password_hash=passwords.hash_password(password) if password else None,
            version=(existing.version + 1) if existing else 1,
            created_at=now,
            updated_at=now,
            revoked_at=None,
        )
        db.add(row)
    await _announce(request, body.charger_id, "added")
    return IssuedCredential(**_view(row).model_dump(), password=password)


@router.post(
    "/{charger_id}/rotate",
    response_model=IssuedCredential,
    summary="New password for a charger (shown once); the old one stops working",
)
async def rotate(
    charger_id: ChargerId, rt: RuntimeDep, request: Request, body: Rotate | None = None
) -> IssuedCredential:
    async with rt.sessions() as db, db.begin():
        row = await db.get(Credential, charger_id)
        if row is None or row.revoked_at is not None:
            raise HTTPException(404, f"charger {charger_id} has no active credentials")
        profile = row.security_profile
        password = _password(body.password if body else None, min(profile, 2))
        assert password is not None
        row.password_hash = passwords.hash_password(password)
        row.version += 1
        row.updated_at = datetime.now(UTC)
    await _announce(request, charger_id, "rotated")
    return IssuedCredential(**_view(row).model_dump(), password=password)


@router.delete(
    "/{charger_id}",
    status_code=204,
    summary="Revoke a charger's credentials; it is disconnected and refused from now on",
)
async def revoke(charger_id: ChargerId, rt: RuntimeDep, request: Request) -> Response:
    async with rt.sessions() as db, db.begin():
        row = await db.get(Credential, charger_id)
        if row is None or row.revoked_at is not None:
            raise HTTPException(404, f"charger {charger_id} has no active credentials")
        row.revoked_at = row.updated_at = datetime.now(UTC)
        row.version += 1
    await _announce(request, charger_id, "revoked")
    return Response(status_code=204)


@router.get("", response_model=list[CredentialView], summary="Chargers with credentials")
async def listing(rt: RuntimeDep) -> list[CredentialView]:
    async with rt.sessions() as db:
        rows = (await db.execute(select(Credential).order_by(Credential.charger_id))).scalars()
        return [_view(r) for r in rows]


@router.get(
    "/attempts",
    response_model=list[Attempt],
    summary="Refused handshakes, newest first (never the secret)",
)
async def attempts(
    rt: RuntimeDep,
    charger_id: Annotated[str | None, Query(max_length=MAX_CHARGER_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Attempt]:
    query = select(AuthAttempt).order_by(AuthAttempt.at.desc(), AuthAttempt.id.desc())
    if charger_id is not None:
        query = query.where(AuthAttempt.charger_id == charger_id)
    async with rt.sessions() as db:
        rows = (await db.execute(query.limit(limit))).scalars()
        return [
            Attempt(
                charger_id=r.charger_id,
                at=r.at,
                remote=r.remote,
                instance=r.instance,
                reason=r.reason,
                detail=r.detail,
            )
            for r in rows
        ]
