"""Reading the routing table and turning it into the values the data plane reads from KV."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sy_bus import BackendRef, EffectiveRoute, streams
from sy_routing.models import Backend, ChargerRoute, DefaultRoute, RoutingVersion


@dataclass
class Publication:
    """KV writes that bring the sy-routes bucket to routing-table version `version`."""

    version: int
    puts: dict[str, EffectiveRoute] = field(default_factory=dict)
    deletes: set[str] = field(default_factory=set)


def effective_route(backend: Backend, version: int) -> EffectiveRoute:
    ref = BackendRef(name=backend.name, url=backend.url, ocpp_versions=list(backend.ocpp_versions))
    return EffectiveRoute(primary=ref, version=version)


async def latest_version(session: AsyncSession) -> int:
    latest = await session.scalar(select(func.max(RoutingVersion.id)))
    return latest or 0


async def default_route(session: AsyncSession) -> DefaultRoute | None:
    return await session.get(DefaultRoute, 1)


async def charger_route(session: AsyncSession, charger_id: str) -> ChargerRoute | None:
    return await session.get(ChargerRoute, charger_id)


async def charger_routes(session: AsyncSession) -> Sequence[ChargerRoute]:
    query = select(ChargerRoute).order_by(ChargerRoute.charger_id)
    return (await session.scalars(query)).all()


async def chargers_using(session: AsyncSession, backend: str) -> list[str]:
    query = select(ChargerRoute.charger_id).where(ChargerRoute.primary_backend == backend)
    return list((await session.scalars(query.order_by(ChargerRoute.charger_id))).all())


async def publication_for(
    session: AsyncSession, version: int, chargers: Iterable[str], default: bool
) -> Publication:
    """The KV writes for the keys of `chargers` (and of the default route when `default`)."""
    publication = Publication(version)
    for charger_id in chargers:
        key = streams.route_key(charger_id)
        route = await charger_route(session, charger_id)
        if route is None:  # no own route any more: the data plane falls back to "default"
            publication.deletes.add(key)
        else:
            publication.puts[key] = effective_route(route.primary, version)
    if default:
        found = await default_route(session)
        if found is None:
            publication.deletes.add(streams.DEFAULT_ROUTE_KEY)
        else:
            publication.puts[streams.DEFAULT_ROUTE_KEY] = effective_route(found.primary, version)
    return publication


async def whole_table(session: AsyncSession) -> Publication:
    """Every key the bucket should hold, at the latest version (deletes are left to the caller)."""
    version = await latest_version(session)
    publication = Publication(version)
    found = await default_route(session)
    if found is not None:
        publication.puts[streams.DEFAULT_ROUTE_KEY] = effective_route(found.primary, version)
    for route in await charger_routes(session):
        publication.puts[streams.route_key(route.charger_id)] = effective_route(
            route.primary, version
        )
    return publication
