"""Reading the routing table and turning it into the values the data plane reads from KV.

A change names the chargers it may affect (or the default, or everything); `pending()` resolves
them with the policy and compares the result with `published_routes`, so only keys whose value
really changes are written, and a key keeps the version at which its value last changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sy_bus import BackendAuth, BackendRef, EffectiveRoute, streams, subjects
from sy_routing import policy
from sy_routing.models import (
    Backend,
    Charger,
    Group,
    PublishedRoute,
    Route,
    RouteShadow,
    RoutingVersion,
)
from sy_routing.policy import Attributes, Membership, Policy, Resolution, Rule, Selector, Target

_CHARGER_PREFIX = streams.route_key("x")[: -len("x")]
UPSERT_BATCH = 1000  # rows per statement (3 parameters each, far below asyncpg's 32767)


@dataclass
class Scope:
    """Which KV keys a change may affect."""

    chargers: set[str] = field(default_factory=set)
    default: bool = False
    everything: bool = False


@dataclass
class Publication:
    """KV writes that bring the sy-routes bucket to routing-table version `version`."""

    version: int
    puts: dict[str, EffectiveRoute] = field(default_factory=dict)
    deletes: set[str] = field(default_factory=set)


@dataclass
class Diff:
    """Keys whose effective route differs from what is published (values carry no version yet)."""

    puts: dict[str, EffectiveRoute] = field(default_factory=dict)
    deletes: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.puts or self.deletes)

    def chargers(self) -> list[str]:
        keys = [*self.puts, *self.deletes]
        return sorted(charger_of(k) for k in keys if k != streams.DEFAULT_ROUTE_KEY)


def charger_of(key: str) -> str:
    return subjects.charger_id_from_token(key[len(_CHARGER_PREFIX) :])


# --- ORM rows as policy values -------------------------------------------------------------


def backend_ref(backend: Backend) -> BackendRef:
    return BackendRef(
        name=backend.name,
        url=backend.url,
        ocpp_versions=list(backend.ocpp_versions),
        url_by_version=dict(backend.url_by_version or {}),
        auth=BackendAuth(
            kind=backend.auth_kind,
            username=backend.username,
            password_ref=backend.password_ref,
            cert_ref=backend.cert_ref,
            key_ref=backend.key_ref,
            ca_ref=backend.ca_ref,
        ),
        connect_rate_per_s=backend.connect_rate_per_s,
        call_timeout_s=backend.call_timeout_s,
    )


def _acl(commands: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if commands is None else tuple(commands)


def rule_of(route: Route) -> Rule:
    return Rule(
        Target(route.primary_backend, _acl(route.primary_commands)),
        tuple(Target(s.backend_name, _acl(s.commands)) for s in route.shadows),
    )


def membership_of(group: Group) -> Membership:
    if group.members is not None:
        return Membership(group.name, members=frozenset(group.members))
    return Membership(group.name, selector=Selector.from_doc(group.selector or {}))


def attributes_of(charger: Charger) -> Attributes:
    return Attributes(
        vendor=charger.vendor,
        model=charger.model,
        firmware=charger.firmware,
        ocpp=charger.ocpp,
        site=charger.site,
        criticality=charger.criticality,
        tags=frozenset(charger.tags or ()),
    )


# --- reads ---------------------------------------------------------------------------------


async def latest_version(session: AsyncSession) -> int:
    latest = await session.scalar(select(func.max(RoutingVersion.id)))
    return latest or 0


async def default_route(session: AsyncSession) -> Route | None:
    return await session.scalar(select(Route).where(Route.scope == "default"))


async def charger_route(session: AsyncSession, charger_id: str) -> Route | None:
    return await session.scalar(select(Route).where(Route.charger_id == charger_id))


async def group_route(session: AsyncSession, group: str) -> Route | None:
    return await session.scalar(select(Route).where(Route.group_name == group))


async def charger_routes(
    session: AsyncSession, ids: Iterable[str] | None = None
) -> Sequence[Route]:
    query = select(Route).where(Route.scope == "charger")
    if ids is not None:
        query = query.where(Route.charger_id.in_(list(ids)))
    return (await session.scalars(query.order_by(Route.charger_id))).all()


async def group_routes(session: AsyncSession) -> Sequence[Route]:
    query = select(Route).where(Route.scope == "group").order_by(Route.priority)
    return (await session.scalars(query)).all()


async def groups(session: AsyncSession) -> Sequence[Group]:
    return (await session.scalars(select(Group).order_by(Group.name))).all()


async def chargers(session: AsyncSession) -> Sequence[Charger]:
    return (await session.scalars(select(Charger).order_by(Charger.charger_id))).all()


async def fleet(session: AsyncSession, ids: Iterable[str] | None = None) -> dict[str, Attributes]:
    query = select(Charger)
    if ids is not None:
        query = query.where(Charger.charger_id.in_(list(ids)))
    return {c.charger_id: attributes_of(c) for c in (await session.scalars(query)).all()}


async def routes_using(session: AsyncSession, backend: str) -> Sequence[Route]:
    """Routes that name `backend` as primary or shadow."""
    shadowing = select(RouteShadow.route_id).where(RouteShadow.backend_name == backend)
    query = select(Route).where(or_(Route.primary_backend == backend, Route.id.in_(shadowing)))
    return (
        await session.scalars(query.order_by(Route.scope, Route.priority, Route.charger_id))
    ).all()


async def backend_refs(session: AsyncSession) -> dict[str, BackendRef]:
    return {b.name: backend_ref(b) for b in (await session.scalars(select(Backend))).all()}


async def load_policy(session: AsyncSession) -> Policy:
    default = await default_route(session)
    by_name = {g.name: g for g in await groups(session)}
    ordered = [
        (membership_of(by_name[r.group_name]), rule_of(r))
        for r in await group_routes(session)
        if r.group_name is not None
    ]
    return Policy(default=rule_of(default) if default else None, groups=ordered)


async def resolve(session: AsyncSession, charger_id: str) -> Resolution:
    own = await charger_route(session, charger_id)
    attrs = (await fleet(session, [charger_id])).get(charger_id)
    return (await load_policy(session)).resolve(charger_id, rule_of(own) if own else None, attrs)


# --- publication ---------------------------------------------------------------------------


def _doc(route: EffectiveRoute) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(route.to_bytes())
    doc.pop("version", None)
    return doc


async def desired(session: AsyncSession, scope: Scope) -> dict[str, EffectiveRoute]:
    """The effective route of every key in `scope` that should exist (version 0)."""
    rules = await load_policy(session)
    refs = await backend_refs(session)
    wanted: dict[str, EffectiveRoute] = {}
    if (scope.default or scope.everything) and rules.default is not None:
        wanted[streams.DEFAULT_ROUTE_KEY] = policy.effective(rules.default, refs, 0)
    ids: Iterable[str] | None = None if scope.everything else scope.chargers
    if ids is not None and not scope.chargers:
        return wanted
    own = {r.charger_id: rule_of(r) for r in await charger_routes(session, ids) if r.charger_id}
    attrs = await fleet(session, ids)
    candidates = set(scope.chargers) if ids is not None else {*own, *attrs, *rules.listed()}
    for charger_id in candidates:
        found = rules.resolve(charger_id, own.get(charger_id), attrs.get(charger_id))
        if found.source != "default" and found.rule is not None:
            wanted[streams.route_key(charger_id)] = policy.effective(found.rule, refs, 0)
    return wanted


async def pending(session: AsyncSession, scope: Scope) -> Diff:
    wanted = await desired(session, scope)
    query = select(PublishedRoute)
    if not scope.everything:
        keys = {streams.route_key(c) for c in scope.chargers}
        if scope.default:
            keys.add(streams.DEFAULT_ROUTE_KEY)
        query = query.where(PublishedRoute.key.in_(keys))
    published = {row.key: row.route for row in (await session.scalars(query)).all()}
    diff = Diff(deletes=published.keys() - wanted.keys())
    for key, route in wanted.items():
        if published.get(key) != _doc(route):
            diff.puts[key] = route
    return diff


async def apply(
    session: AsyncSession, diff: Diff, version: int, kept: Mapping[str, int] | None = None
) -> Publication:
    """Record `diff` as published at `version` (or at a key's `kept` version) and return the
    KV writes. Runs inside the change's transaction."""
    publication = Publication(version, deletes=set(diff.deletes))
    rows = []
    for key, route in diff.puts.items():
        stamped = dataclasses.replace(route, version=(kept or {}).get(key, version))
        rows.append({"key": key, "route": _doc(stamped), "version": stamped.version})
        publication.puts[key] = stamped
    for start in range(0, len(rows), UPSERT_BATCH):
        upsert = insert(PublishedRoute).values(rows[start : start + UPSERT_BATCH])
        await session.execute(
            upsert.on_conflict_do_update(
                index_elements=[PublishedRoute.key],
                set_={"route": upsert.excluded.route, "version": upsert.excluded.version},
            )
        )
    if diff.deletes:
        await session.execute(delete(PublishedRoute).where(PublishedRoute.key.in_(diff.deletes)))
    return publication


async def published(session: AsyncSession) -> dict[str, EffectiveRoute]:
    """Every key the bucket should hold, each at the version its value last changed."""
    rows = (await session.scalars(select(PublishedRoute))).all()
    return {
        row.key: EffectiveRoute.from_bytes(orjson.dumps({**row.route, "version": row.version}))
        for row in rows
    }
