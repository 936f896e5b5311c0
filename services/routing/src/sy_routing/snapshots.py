"""The whole routing table as one JSON document, kept with every version so any can be restored.

A snapshot holds what an operator changes through the routing API: the default route, the
groups, the group routes in priority order and the charger routes, plus the definitions of the
backends they use (for the record: restoring never changes a backend, which is admin business).
Charger attributes are not in it: a restored table is evaluated over the fleet as it is now.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from sy_routing import table
from sy_routing.models import Backend, Group, Route, RouteShadow

SNAPSHOT_FORMAT = 1


def route_doc(route: Route) -> dict[str, Any]:
    """A route's definition, as versions show it in `before`/`after` and snapshots keep it."""
    return {
        "primary": route.primary_backend,
        "commands": None if route.primary_commands is None else list(route.primary_commands),
        "shadows": [
            {
                "backend": s.backend_name,
                "commands": None if s.commands is None else list(s.commands),
            }
            for s in route.shadows
        ],
    }


def group_doc(group: Group) -> dict[str, Any]:
    return {
        "name": group.name,
        "description": group.description,
        "selector": group.selector,
        "members": None if group.members is None else sorted(group.members),
    }


def backend_doc(backend: Backend) -> dict[str, Any]:
    return {
        "url": backend.url,
        "ocpp_versions": list(backend.ocpp_versions),
        "url_by_version": dict(backend.url_by_version or {}),
        "auth": {
            "kind": backend.auth_kind,
            "username": backend.username,
            "password_ref": backend.password_ref,
            "cert_ref": backend.cert_ref,
            "key_ref": backend.key_ref,
            "ca_ref": backend.ca_ref,
        },
        "connect_rate_per_s": backend.connect_rate_per_s,
        "call_timeout_s": backend.call_timeout_s,
    }


async def take(session: AsyncSession) -> dict[str, Any]:
    default = await table.default_route(session)
    group_routes = await table.group_routes(session)
    charger_routes = await table.charger_routes(session)
    used = {
        name
        for route in [*([default] if default else []), *group_routes, *charger_routes]
        for name in table.rule_of(route).backends()
    }
    backends = (await session.scalars(select(Backend).where(Backend.name.in_(used)))).all()
    return {
        "format": SNAPSHOT_FORMAT,
        "default": route_doc(default) if default else None,
        "groups": [group_doc(g) for g in await table.groups(session)],
        "group_routes": [
            {"group": r.group_name, "priority": r.priority, **route_doc(r)} for r in group_routes
        ],
        "charger_routes": [{"charger_id": r.charger_id, **route_doc(r)} for r in charger_routes],
        "backends": {b.name: backend_doc(b) for b in sorted(backends, key=lambda b: b.name)},
    }


def same_table(one: dict[str, Any], other: dict[str, Any]) -> bool:
    """Whether two snapshots route the same way (backend definitions aside)."""
    keys = ("default", "groups", "group_routes", "charger_routes")
    return all(one.get(k) == other.get(k) for k in keys)


def backends_named(snapshot: dict[str, Any]) -> set[str]:
    docs = [
        *([snapshot["default"]] if snapshot.get("default") else []),
        *snapshot.get("group_routes", []),
        *snapshot.get("charger_routes", []),
    ]
    return {
        name for doc in docs for name in (doc["primary"], *(s["backend"] for s in doc["shadows"]))
    }


def _route(doc: dict[str, Any], **where: Any) -> Route:
    route = Route(**where, primary_backend=doc["primary"], primary_commands=doc["commands"])
    route.shadows = [
        RouteShadow(position=i, backend_name=s["backend"], commands=s["commands"])
        for i, s in enumerate(doc["shadows"])
    ]
    return route


async def restore(session: AsyncSession, snapshot: dict[str, Any]) -> None:
    """Replace the table with `snapshot`. The caller has checked its backends exist."""
    await session.execute(delete(Route))  # shadows go with them (ON DELETE CASCADE)
    await session.execute(delete(Group))
    session.expunge_all()
    for g in snapshot.get("groups", []):
        session.add(Group(**g))
    await session.flush()
    if snapshot.get("default"):
        session.add(_route(snapshot["default"], scope="default"))
    for doc in snapshot.get("group_routes", []):
        session.add(_route(doc, scope="group", group_name=doc["group"], priority=doc["priority"]))
    for doc in snapshot.get("charger_routes", []):
        session.add(_route(doc, scope="charger", charger_id=doc["charger_id"]))
    await session.flush()
