"""Groups: chargers selected by their attributes or listed by id, to be routed together."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Self

from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from sy_platform import RuntimeDep
from sy_routing import policy, snapshots, table
from sy_routing.api.deps import REASON_DESCRIPTION, RoutingTableDep
from sy_routing.api.route_models import RouteOut, route_out
from sy_routing.models import Group
from sy_routing.vocabulary import ChargerId, GroupName, Label

log = logging.getLogger(__name__)

router = APIRouter(prefix="/groups", tags=["groups"])

NamePath = Annotated[str, Path(description="The group's name.")]
ReasonQuery = Annotated[str, Query(max_length=2000, description=REASON_DESCRIPTION)]


def _globs(value: list[str]) -> list[str]:
    for glob in value:
        if not 1 <= len(glob) <= 64:
            raise ValueError(f"pattern {glob!r} must be 1-64 characters")
    return list(dict.fromkeys(value))


Globs = Annotated[list[str], AfterValidator(_globs)]
GLOBS = "Glob patterns ('*', '?', '[..]'), case-insensitive; the charger matches if any does."


class SelectorIn(BaseModel):
    """Every attribute named must match (AND); within one attribute, any pattern (OR)."""

    model_config = ConfigDict(extra="forbid")

    vendor: Globs = Field(default_factory=list, description=f"Vendor from its boot. {GLOBS}")
    model: Globs = Field(default_factory=list, description=f"Model from its boot. {GLOBS}")
    firmware: Globs = Field(default_factory=list, description=f"Firmware version. {GLOBS}")
    ocpp: Globs = Field(default_factory=list, description=f"OCPP version, e.g. ocpp1.6. {GLOBS}")
    site: Globs = Field(default_factory=list, description=f"Site set by an operator. {GLOBS}")
    criticality: Globs = Field(default_factory=list, description=f"Criticality. {GLOBS}")
    tags: list[Label] = Field(default_factory=list, description="Tags the charger must all carry.")

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not any(self.model_dump().values()):
            raise ValueError("a selector needs at least one attribute, e.g. {'vendor': ['Acme']}")
        return self

    def doc(self) -> dict[str, list[str]]:
        return {k: v for k, v in self.model_dump().items() if v}


class GroupUpdate(BaseModel):
    description: str = Field("", max_length=2000, description="What the group is for.")
    where: SelectorIn | None = Field(None, description="Select chargers by their attributes.")
    chargers: list[ChargerId] | None = Field(
        None, max_length=100_000, description="Or list them by id (they may not have booted yet)."
    )
    reason: str = Field("", max_length=2000, description=REASON_DESCRIPTION)

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if (self.where is None) == (self.chargers is None):
            raise ValueError("give either 'where' (a selector) or 'chargers' (a list), not both")
        return self


class GroupIn(GroupUpdate):
    name: GroupName = Field(description="Unique name: 1-64 of a-z 0-9 - _, e.g. wave-1-berlin.")


class GroupOut(BaseModel):
    name: str
    description: str
    where: dict[str, list[str]] | None = Field(description="The selector, if by attributes.")
    chargers: list[str] | None = Field(description="The listed ids, if by list.")
    member_count: int = Field(description="How many chargers the group holds now.")
    members: list[str] | None = Field(
        None, description="The chargers it holds now (on GET /groups/{name} only)."
    )
    route: RouteOut | None = Field(description="The group's route, if it has one.")
    created_at: datetime
    updated_at: datetime


async def _members(session: AsyncSession, group: Group) -> list[str]:
    membership = table.membership_of(group)
    if membership.members is not None:
        return sorted(membership.members)
    return policy.members(membership, await table.fleet(session))


async def _out(session: AsyncSession, group: Group, *, with_members: bool) -> GroupOut:
    members = await _members(session, group)
    route = await table.group_route(session, group.name)
    return GroupOut(
        name=group.name,
        description=group.description,
        where=group.selector,
        chargers=group.members,
        member_count=len(members),
        members=members if with_members else None,
        route=route_out(route) if route else None,
        created_at=group.created_at,
        updated_at=group.updated_at,
    )


def unknown_group(name: str) -> HTTPException:
    return HTTPException(404, f"group '{name}' does not exist; create it with POST /groups")


def _write(group: Group, body: GroupUpdate) -> None:
    group.description = body.description
    group.selector = body.where.doc() if body.where else None
    group.members = sorted(set(body.chargers)) if body.chargers is not None else None


@router.post("", status_code=201, response_model=GroupOut, summary="Create a group",
             responses={409: {"description": "a group with this name exists"}})  # fmt: skip
async def create_group(body: GroupIn, routing_table: RoutingTableDep) -> GroupOut:
    async with routing_table.change(body.reason) as change:
        if await change.session.get(Group, body.name) is not None:
            raise HTTPException(
                409, f"group '{body.name}' already exists; change it with PUT /groups/{body.name}"
            )
        group = Group(name=body.name)
        _write(group, body)
        change.session.add(group)
        await change.session.flush()
        detail: dict[str, Any] = {"op": "group.created", "group": body.name}
        change.record({**detail, "after": snapshots.group_doc(group)})
        out = await _out(change.session, group, with_members=True)
    log.info("group %s created at version %d", body.name, change.version)
    return out


@router.get("", response_model=list[GroupOut], summary="List groups with member counts")
async def list_groups(rt: RuntimeDep) -> list[GroupOut]:
    async with rt.sessions() as session, session.begin():
        return [await _out(session, g, with_members=False) for g in await table.groups(session)]


@router.get("/{name}", response_model=GroupOut, summary="Show a group and the chargers it holds",
            responses={404: {"description": "no group has this name"}})  # fmt: skip
async def get_group(name: NamePath, rt: RuntimeDep) -> GroupOut:
    async with rt.sessions() as session, session.begin():
        group = await session.get(Group, name)
        if group is None:
            raise unknown_group(name)
        return await _out(session, group, with_members=True)


@router.put("/{name}", response_model=GroupOut,
            summary="Replace a group's definition; its members' routes are recomputed",
            responses={404: {"description": "no group has this name"}})  # fmt: skip
async def update_group(
    name: NamePath, body: GroupUpdate, routing_table: RoutingTableDep
) -> GroupOut:
    async with routing_table.change(body.reason) as change:
        group = await change.session.get(Group, name)
        if group is None:
            raise unknown_group(name)
        before = snapshots.group_doc(group)
        _write(group, body)
        after = snapshots.group_doc(group)
        if after != before:
            routed = await table.group_route(change.session, name) is not None
            detail = {"op": "group.updated", "group": name, "before": before, "after": after}
            change.record(detail, everything=routed)
        await change.session.flush()
        out = await _out(change.session, group, with_members=True)
    if change.version:
        log.info("group %s changed at version %d; %d chargers moved", name, change.version,
                 len(change.moved))  # fmt: skip
    return out


@router.delete("/{name}", status_code=204, response_class=Response,
               summary="Remove a group that has no route",
               responses={404: {"description": "no group has this name"},
                          409: {"description": "the group still has a route"}})  # fmt: skip
async def remove_group(
    name: NamePath, routing_table: RoutingTableDep, reason: ReasonQuery = ""
) -> Response:
    async with routing_table.change(reason) as change:
        group = await change.session.get(Group, name)
        if group is None:
            raise unknown_group(name)
        if await table.group_route(change.session, name) is not None:
            raise HTTPException(
                409,
                f"group '{name}' still has a route; remove it first"
                f" (DELETE /routes/groups/{name}) so its chargers' routes change on purpose",
            )
        before = snapshots.group_doc(group)
        await change.session.delete(group)
        change.record({"op": "group.removed", "group": name, "before": before})
    log.info("group %s removed at version %d", name, change.version)
    return Response(status_code=204)
