"""The shape of a route in the API (default, group or charger), and writing one to the database."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from fastapi import HTTPException
from pydantic import AfterValidator, BaseModel, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from sy_bus import streams
from sy_routing import actions
from sy_routing.api.backends import not_registered
from sy_routing.api.deps import REASON_DESCRIPTION
from sy_routing.models import Backend, Route, RouteShadow
from sy_routing.vocabulary import BackendName

Commands = Annotated[list[str] | None, AfterValidator(actions.commands)]
PRIMARY_COMMANDS = (
    "Backend-initiated actions the primary may send to the charger (its ACL), e.g."
    " ['RemoteStartTransaction', 'Reset']; null (the default) allows every action, [] none."
)
SHADOW_COMMANDS = (
    "Backend-initiated actions this shadow may send to the charger; [] (the default) allows"
    " none, null every action."
)


class ShadowIn(BaseModel):
    backend: BackendName = Field(description="Name of a registered backend that gets copies.")
    commands: Commands = Field(default_factory=list, description=SHADOW_COMMANDS)


class RouteIn(BaseModel):
    primary: BackendName = Field(description="Name of the registered backend to route to.")
    commands: Commands = Field(None, description=PRIMARY_COMMANDS)
    shadows: list[ShadowIn] = Field(
        default_factory=list,
        description="Backends that receive copies of the charger's CALLs; their answers are"
        " compared with the primary's and never reach the charger.",
    )
    reason: str = Field("", max_length=2000, description=REASON_DESCRIPTION)

    @model_validator(mode="after")
    def _distinct_backends(self) -> Self:
        names = [self.primary, *(s.backend for s in self.shadows)]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(
                f"backend(s) {', '.join(map(repr, repeated))} appear more than once on the route;"
                " a backend is either the primary or one shadow"
            )
        return self


class GroupRouteIn(RouteIn):
    priority: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="Order among group routes, lowest first: a charger in several routed groups"
        " follows the first. Unique. Default: after every existing group route (highest + 10).",
    )


class BackendRefOut(BaseModel):
    name: str = Field(description="The backend's name.")
    url: str = Field(description="WebSocket base URL the connectors dial, '<url>/<chargerId>'.")
    ocpp_versions: list[str] = Field(description="OCPP versions the backend speaks.")
    commands: list[str] | None = Field(
        None, description="Backend-initiated actions it may send on this route; null = all."
    )


class RouteOut(BaseModel):
    charger_id: str | None = Field(
        description="The charger this route is for; null for the default route or a group's."
    )
    source: Literal["charger", "group", "default"] = Field(
        description="'charger' when the charger has a route of its own, 'group' when it follows"
        " a group's route, 'default' when it follows the default route."
    )
    group: str | None = Field(None, description="The group whose route this is.")
    priority: int | None = Field(None, description="The group route's priority, lowest first.")
    primary: BackendRefOut = Field(description="The backend the charger's traffic goes to.")
    shadows: list[BackendRefOut] = Field(
        default_factory=list, description="Backends that receive copies of charger CALLs."
    )
    kv_key: str | None = Field(
        description="The sy-routes KV key the data plane reads this route from (null for a"
        " group's route: each member has its own key)."
    )
    updated_at: datetime = Field(description="When this route last changed (UTC).")


def _ref(backend: Backend, commands: list[str] | None) -> BackendRefOut:
    return BackendRefOut(
        name=backend.name,
        url=backend.url,
        ocpp_versions=list(backend.ocpp_versions),
        commands=None if commands is None else list(commands),
    )


def route_out(route: Route, charger_id: str | None = None) -> RouteOut:
    """`route` as seen by `charger_id` (None: the route itself)."""
    kv_key: str | None = None
    if route.scope == "charger":
        charger_id = route.charger_id
    if route.scope == "default":
        kv_key = streams.DEFAULT_ROUTE_KEY
    elif charger_id is not None:
        kv_key = streams.route_key(charger_id)
    return RouteOut(
        charger_id=charger_id,
        source=route.scope,
        group=route.group_name,
        priority=route.priority,
        primary=_ref(route.primary, route.primary_commands),
        shadows=[_ref(s.backend, s.commands) for s in route.shadows],
        kv_key=kv_key,
        updated_at=route.updated_at,
    )


async def write_route(session: AsyncSession, route: Route, body: RouteIn) -> None:
    """Point `route` at the body's backends (404 naming an unregistered one)."""
    backends = {}
    with session.no_autoflush:  # `route` may be new and still without its primary
        for name in [body.primary, *(s.backend for s in body.shadows)]:
            backend = await session.get(Backend, name)
            if backend is None:
                raise not_registered(name)
            backends[name] = backend
    route.primary = backends[body.primary]
    route.primary_commands = body.commands
    wanted = [(s.backend, s.commands) for s in body.shadows]
    if [(s.backend_name, s.commands) for s in route.shadows] != wanted:
        route.shadows.clear()
        await session.flush()  # old rows out before new ones take their positions
        route.shadows.extend(
            RouteShadow(position=i, backend=backends[name], commands=commands)
            for i, (name, commands) in enumerate(wanted)
        )
    await session.flush()


def no_route(what: str) -> HTTPException:
    return HTTPException(404, what)
