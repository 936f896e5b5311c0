"""`/tokens`: create, list and revoke admin API tokens (admin role). Served by routing.

The token is shown once, in the answer to its creation; only its digest is stored.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field

from sy_bus import streams
from sy_platform.audit import note
from sy_platform.auth.guard import PrincipalDep, require_role
from sy_platform.auth.roles import Role
from sy_platform.auth.tokens import TokenRecord, new_token
from sy_platform.deps import RuntimeDep

router = APIRouter(
    prefix="/tokens", tags=["tokens"], dependencies=[Depends(require_role(Role.ADMIN))]
)
NamePattern = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]


class TokenIn(BaseModel):
    name: NamePattern = Field(
        description="Who or what uses the token, e.g. 'ci-pipeline' or 'ana'."
    )
    roles: list[Role] = Field(min_length=1, description="viewer, operator and/or admin.")
    expires_in_days: int | None = Field(
        90, ge=1, le=3650, description="Days until the token stops working; null: never."
    )
    reason: str = Field("", max_length=2000, description="Why the token is created (audited).")


class TokenOut(BaseModel):
    name: str = Field(description="The token's name.")
    token_id: str = Field(description="Public part of the token (sy_<token_id>_...).")
    roles: list[Role] = Field(description="Roles the token carries.")
    created_at: datetime = Field(description="When it was created (UTC).")
    expires_at: datetime | None = Field(description="When it stops working (UTC), if ever.")
    revoked_at: datetime | None = Field(description="When it was revoked (UTC), if it was.")
    created_by: str = Field(description="Who created it.")


class NewToken(TokenOut):
    token: str = Field(description="The token itself. Shown only now: store it safely.")


def _out(record: TokenRecord) -> TokenOut:
    return TokenOut(
        name=record.name,
        token_id=record.token_id,
        roles=[Role(r) for r in record.roles],
        created_at=datetime.fromisoformat(record.created_at),
        expires_at=datetime.fromisoformat(record.expires_at) if record.expires_at else None,
        revoked_at=datetime.fromisoformat(record.revoked_at) if record.revoked_at else None,
        created_by=record.created_by,
    )


async def _records(rt: RuntimeDep) -> list[TokenRecord]:
    kv = await rt.js.key_value(streams.API_TOKENS.name)
    try:
        keys = await kv.keys()
    except Exception:  # an empty bucket has no keys to list
        return []
    records = []
    for key in keys:
        entry = await kv.get(key)
        if entry.value:
            records.append(TokenRecord.from_bytes(entry.value))
    return sorted(records, key=lambda r: r.created_at)


@router.post("", status_code=201, response_model=NewToken, summary="Create an API token")
async def create(body: TokenIn, rt: RuntimeDep, who: PrincipalDep, request: Request) -> NewToken:
    live = [r for r in await _records(rt) if r.name == body.name and not r.revoked_at]
    if live:
        raise HTTPException(status.HTTP_409_CONFLICT, f"a live token named '{body.name}' exists; "
                            "revoke it first or choose another name")  # fmt: skip
    token_id, token, token_digest = new_token()
    now = datetime.now(UTC)
    expires = now + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    record = TokenRecord(
        token_id=token_id,
        name=body.name,
        digest=token_digest,
        roles=[r.value for r in body.roles],
        created_at=now.isoformat(),
        expires_at=expires.isoformat() if expires else None,
        created_by=who.name,
    )
    kv = await rt.js.key_value(streams.API_TOKENS.name)
    await kv.put(token_id, record.to_bytes())
    out = _out(record)
    note(request, f"token/{body.name}", action="create", after=out.model_dump(mode="json"),
         reason=body.reason)  # fmt: skip
    return NewToken(**out.model_dump(), token=token)


@router.get("", response_model=list[TokenOut], summary="List API tokens (never their secrets)")
async def list_tokens(rt: RuntimeDep) -> list[TokenOut]:
    return [_out(r) for r in await _records(rt)]


@router.delete("/{name}", response_model=TokenOut, summary="Revoke a token now, on every service")
async def revoke(name: str, rt: RuntimeDep, request: Request, reason: str = "") -> TokenOut:
    live = [r for r in await _records(rt) if r.name == name and not r.revoked_at]
    if not live:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no live token named '{name}'")
    record = live[0]
    revoked = replace(record, revoked_at=datetime.now(UTC).isoformat())
    kv = await rt.js.key_value(streams.API_TOKENS.name)
    await kv.put(record.token_id, revoked.to_bytes())
    out = _out(revoked)
    note(request, f"token/{name}", action="revoke", before=_out(record).model_dump(mode="json"),
         after=out.model_dump(mode="json"), reason=reason)  # fmt: skip
    return out
