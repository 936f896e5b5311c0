"""The fleet: each charger's attributes (learned from its boot, or set by an operator), which
groups hold it and which route it follows."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from sy_platform import RuntimeDep
from sy_routing import policy, table
from sy_routing.api.deps import REASON_DESCRIPTION, RoutingTableDep
from sy_routing.models import Charger
from sy_routing.policy import Policy, Selector
from sy_routing.vocabulary import ChargerId, Label

log = logging.getLogger(__name__)

router = APIRouter(prefix="/chargers", tags=["chargers"])

ChargerPath = Annotated[
    ChargerId,
    Path(description="The charger's OCPP identity (URL-encode characters such as ' ' or '/')."),
]
ReasonQuery = Annotated[str, Query(max_length=2000, description=REASON_DESCRIPTION)]
GLOB = "Glob pattern, case-insensitive (repeat for any of several)."
OPERATOR_FIELDS = ("site", "criticality", "tags")


class AttributesIn(BaseModel):
    site: Label | None = Field(None, description="Where the charger is, e.g. 'Berlin-Mitte'.")
    criticality: Label | None = Field(None, description="How critical, e.g. 'high'.")
    tags: list[Label] | None = Field(None, description="Replace all tags, e.g. ['pilot'].")
    reason: str = Field("", max_length=2000, description=REASON_DESCRIPTION)


class ChargerIn(AttributesIn):
    charger_id: ChargerId = Field(description="The charger's OCPP identity.")
    vendor: str | None = Field(None, max_length=64, description="Until its first boot says.")
    model: str | None = Field(None, max_length=64, description="Until its first boot says.")
    firmware: str | None = Field(None, max_length=64, description="Until its first boot says.")


class AttributesPatch(AttributesIn):
    add_tags: list[Label] = Field(default_factory=list, description="Tags to add.")
    remove_tags: list[Label] = Field(default_factory=list, description="Tags to remove.")


class ChargerRouteOut(BaseModel):
    source: str = Field(description="'charger', 'group' or 'default'.")
    group: str | None = Field(None, description="The group whose route applies.")
    primary: str | None = Field(description="The primary backend; null when no route applies.")
    shadows: list[str] = Field(default_factory=list, description="Shadow backends.")


class ChargerOut(BaseModel):
    charger_id: str
    vendor: str | None
    model: str | None
    firmware: str | None
    ocpp: str | None
    booted_at: datetime | None = Field(
        description="When a BootNotification last changed what routing knows of it."
    )
    site: str | None
    criticality: str | None
    tags: list[str]
    groups: list[str] = Field(description="Every group holding it, routed or not.")
    route: ChargerRouteOut = Field(description="The route it follows now.")
    updated_at: datetime


class Fleet:
    """Everything needed to describe chargers: the policy, groups and charger routes."""

    def __init__(self, rules: Policy, memberships: list[policy.Membership],
                 own: dict[str, policy.Rule]) -> None:  # fmt: skip
        self.rules, self.memberships, self.own = rules, memberships, own

    @classmethod
    async def load(cls, session: AsyncSession, ids: list[str] | None = None) -> Fleet:
        own = {r.charger_id: table.rule_of(r) for r in await table.charger_routes(session, ids)}
        memberships = [table.membership_of(g) for g in await table.groups(session)]
        return cls(await table.load_policy(session), memberships, own)  # type: ignore[arg-type]

    def describe(self, charger: Charger) -> ChargerOut:
        attrs = table.attributes_of(charger)
        found = self.rules.resolve(charger.charger_id, self.own.get(charger.charger_id), attrs)
        rule = found.rule
        return ChargerOut(
            charger_id=charger.charger_id,
            vendor=charger.vendor,
            model=charger.model,
            firmware=charger.firmware,
            ocpp=charger.ocpp,
            booted_at=charger.booted_at,
            site=charger.site,
            criticality=charger.criticality,
            tags=sorted(charger.tags or ()),
            groups=[m.name for m in self.memberships if m.contains(charger.charger_id, attrs)],
            route=ChargerRouteOut(
                source=found.source,
                group=found.group,
                primary=rule.primary.backend if rule else None,
                shadows=[s.backend for s in rule.shadows] if rule else [],
            ),
            updated_at=charger.updated_at,
        )


def _unknown(charger_id: str) -> HTTPException:
    return HTTPException(
        404,
        f"charger '{charger_id}' is not known: it has not booted through Switchyard yet;"
        " register it with POST /chargers",
    )


def _doc(charger: Charger) -> dict[str, Any]:
    return {f: getattr(charger, f) for f in OPERATOR_FIELDS}


@router.get("", response_model=list[ChargerOut], summary="List chargers, filtered by attributes")
async def list_chargers(
    rt: RuntimeDep,
    vendor: Annotated[list[str], Query(description=GLOB)] = [],  # noqa: B006 - FastAPI query lists
    model: Annotated[list[str], Query(description=GLOB)] = [],  # noqa: B006
    firmware: Annotated[list[str], Query(description=GLOB)] = [],  # noqa: B006
    ocpp: Annotated[list[str], Query(description=GLOB)] = [],  # noqa: B006
    site: Annotated[list[str], Query(description=GLOB)] = [],  # noqa: B006
    criticality: Annotated[list[str], Query(description=GLOB)] = [],  # noqa: B006
    tag: Annotated[list[str], Query(description="Carries every tag given.")] = [],  # noqa: B006
    group: Annotated[str | None, Query(description="Only members of this group.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[ChargerOut]:
    wanted = Selector.from_doc({"vendor": vendor, "model": model, "firmware": firmware,
                                "ocpp": ocpp, "site": site, "criticality": criticality,
                                "tags": tag})  # fmt: skip
    async with rt.sessions() as session, session.begin():
        rows = await table.chargers(session)
        described = await Fleet.load(session)
    picked = [c for c in rows if wanted.matches(table.attributes_of(c))]  # no filter: all
    out = [described.describe(c) for c in picked]
    if group is not None:
        out = [c for c in out if group in c.groups]
    return out[offset : offset + limit]


@router.get("/{charger_id:path}", response_model=ChargerOut,
            summary="Show a charger: attributes, groups and the route it follows",
            responses={404: {"description": "the charger is not known"}})  # fmt: skip
async def get_charger(charger_id: ChargerPath, rt: RuntimeDep) -> ChargerOut:
    async with rt.sessions() as session, session.begin():
        charger = await session.get(Charger, charger_id)
        if charger is None:
            raise _unknown(charger_id)
        return (await Fleet.load(session, [charger_id])).describe(charger)


@router.post("", status_code=201, response_model=ChargerOut,
             summary="Register a charger ahead of its first boot (to group or route it early)",
             responses={409: {"description": "the charger is known"}})  # fmt: skip
async def add_charger(body: ChargerIn, routing_table: RoutingTableDep) -> ChargerOut:
    async with routing_table.change(body.reason) as change:
        if await change.session.get(Charger, body.charger_id) is not None:
            raise HTTPException(
                409, f"charger '{body.charger_id}' is known; change it with PATCH /chargers/<id>"
            )
        charger = Charger(
            charger_id=body.charger_id,
            vendor=body.vendor,
            model=body.model,
            firmware=body.firmware,
            site=body.site,
            criticality=body.criticality,
            tags=sorted(set(body.tags or ())),
        )
        change.session.add(charger)
        await change.session.flush()
        detail = {"op": "charger.registered", "charger_id": body.charger_id, "after": _doc(charger)}
        change.learn(detail, chargers=[body.charger_id])
        out = (await Fleet.load(change.session, [body.charger_id])).describe(charger)
    return out


@router.patch("/{charger_id:path}", response_model=ChargerOut,
              summary="Set a charger's site, criticality or tags; it may move to another group",
              responses={404: {"description": "the charger is not known"}})  # fmt: skip
async def patch_charger(
    charger_id: ChargerPath, body: AttributesPatch, routing_table: RoutingTableDep
) -> ChargerOut:
    async with routing_table.change(body.reason) as change:
        charger = await change.session.get(Charger, charger_id)
        if charger is None:
            raise _unknown(charger_id)
        before = _doc(charger)
        given = body.model_fields_set
        if "site" in given:
            charger.site = body.site
        if "criticality" in given:
            charger.criticality = body.criticality
        tags = set(body.tags if "tags" in given and body.tags is not None else charger.tags or ())
        if "tags" in given and body.tags is None:
            tags = set()
        charger.tags = sorted((tags | set(body.add_tags)) - set(body.remove_tags))
        after = _doc(charger)
        if after != before:
            await change.session.flush()
            detail = {"op": "charger.attributes", "charger_id": charger_id, "before": before,
                      "after": after}  # fmt: skip
            change.learn(detail, chargers=[charger_id])
        out = (await Fleet.load(change.session, [charger_id])).describe(charger)
    if change.version:
        log.info("attributes changed; route moved at version %d", change.version,
                 extra={"charger_id": charger_id})  # fmt: skip
    return out


@router.delete("/{charger_id:path}", status_code=204, response_class=Response,
               summary="Forget a charger's attributes (its next boot teaches them again)",
               responses={404: {"description": "the charger is not known"}})  # fmt: skip
async def forget_charger(
    charger_id: ChargerPath, routing_table: RoutingTableDep, reason: ReasonQuery = ""
) -> Response:
    async with routing_table.change(reason) as change:
        charger = await change.session.get(Charger, charger_id)
        if charger is None:
            raise _unknown(charger_id)
        before = _doc(charger)
        await change.session.delete(charger)
        detail = {"op": "charger.forgotten", "charger_id": charger_id, "before": before}
        change.learn(detail, chargers=[charger_id])
    return Response(status_code=204)
