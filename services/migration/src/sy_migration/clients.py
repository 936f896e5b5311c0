"""The migration service's calls to routing, the journal, the connectors and the edge.

These are control-plane calls to the APIs where each service publishes its policy and its
figures (routes and versions, health, reconciliation, links), made with the service's own token
(`SY_SERVICE_TOKEN`) so routing records the migration service as the author of every routing
change. Charger traffic never passes here: the data plane stays on NATS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from sy_migration.settings import MigrationSettings

TIMEOUT = httpx.Timeout(30.0, connect=5.0)
PAGE = 10_000


class Unavailable(Exception):
    """A service did not answer, or refused; the message names it and says what it said."""


def _path(value: str) -> str:
    return quote(value, safe="")


def _iso(at: datetime) -> str:
    return at.isoformat()


class Services:
    def __init__(
        self, settings: MigrationSettings, transport: httpx.AsyncBaseTransport | None = None
    ):
        token = settings.service_token.get_secret_value() if settings.service_token else ""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._clients = {
            name: httpx.AsyncClient(
                base_url=url.rstrip("/"), headers=headers, timeout=TIMEOUT, transport=transport
            )
            for name, url in (
                ("routing", settings.routing_url),
                ("journal", settings.journal_url),
                ("connectors", settings.connectors_url),
                ("edge", settings.edge_url or ""),
            )
            if url
        }

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    async def call(self, service: str, method: str, path: str, **kwargs: Any) -> Any:
        client = self._clients.get(service)
        if client is None:
            raise Unavailable(f"{service}: no URL configured")
        try:
            response = await client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise Unavailable(f"{service} unreachable at {client.base_url} ({exc!r})") from None
        if response.status_code >= 400:
            raise Unavailable(
                f"{service} refused {method} {path}: HTTP {response.status_code} "
                f"{response.text[:300]}"
            )
        return response.json() if response.content else None

    # -- routing ------------------------------------------------------------------------------

    async def fleet(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            page = await self.call(
                "routing", "GET", "/chargers", params={"limit": PAGE, "offset": len(out)}
            )
            out.extend(page)
            if len(page) < PAGE:
                return out

    async def group(self, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await self.call("routing", "GET", f"/groups/{_path(name)}")
        except Unavailable as exc:
            if "HTTP 404" in str(exc):
                return None
            raise
        return found

    async def backends(self) -> dict[str, dict[str, Any]]:
        return {b["name"]: b for b in await self.call("routing", "GET", "/backends")}

    async def routes(self) -> dict[str, Any]:
        found: dict[str, Any] = await self.call("routing", "GET", "/routes")
        return found

    async def latest_version(self) -> int:
        versions = await self.call("routing", "GET", "/versions", params={"limit": 1})
        return int(versions[0]["id"]) if versions else 0

    async def put_group(
        self, name: str, chargers: list[str], description: str, reason: str
    ) -> None:
        body = {"description": description, "chargers": chargers, "reason": reason}
        if await self.group(name) is None:
            await self.call("routing", "POST", "/groups", json={"name": name, **body})
        else:
            await self.call("routing", "PUT", f"/groups/{_path(name)}", json=body)

    async def route_group(
        self, name: str, primary: str, shadows: list[str], reason: str, priority: int | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "primary": primary,
            "shadows": [{"backend": s} for s in shadows],
            "reason": reason,
        }
        if priority is not None:
            body["priority"] = priority
        found: dict[str, Any] = await self.call(
            "routing", "PUT", f"/routes/groups/{_path(name)}", json=body
        )
        return found

    async def restore(self, version: int, reason: str) -> dict[str, Any]:
        found: dict[str, Any] = await self.call(
            "routing", "POST", f"/versions/{version}/restore", json={"reason": reason}
        )
        return found

    # -- journal ------------------------------------------------------------------------------

    async def health(self, chargers: list[str], since: datetime, until: datetime) -> dict[str, Any]:
        body = {"charger_ids": chargers, "since": _iso(since), "until": _iso(until)}
        found: dict[str, Any] = await self.call("journal", "POST", "/health", json=body)
        return found

    async def frames(
        self,
        since: datetime,
        *,
        until: datetime | None = None,
        action: str | None = None,
        direction: str | None = None,
        limit: int = PAGE,
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"since": _iso(since), "limit": limit}
        if until is not None:
            params["until"] = _iso(until)
        if action:
            params["action"] = action
        if direction:
            params["direction"] = direction
        found: list[dict[str, Any]] = await self.call("journal", "GET", "/traces", params=params)
        return found

    async def reconciliation(self, backend: str, since: datetime) -> dict[str, Any]:
        params = {"backend": backend, "since": _iso(since)}
        found: dict[str, Any] = await self.call("journal", "GET", "/reconciliation", params=params)
        return found

    @asynccontextmanager
    async def export(
        self, kind: str, since: datetime | None, until: datetime
    ) -> AsyncIterator[httpx.Response]:
        params = {"format": "ndjson", "until": _iso(until)}
        if since is not None:
            params["since"] = _iso(since)
        client = self._clients["journal"]
        try:
            async with client.stream("GET", f"/exports/{kind}", params=params) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise Unavailable(f"journal refused the {kind} export: {response.text[:300]}")
                yield response
        except httpx.HTTPError as exc:
            raise Unavailable(f"journal export of {kind} failed ({exc!r})") from None

    # -- connectors and edge -------------------------------------------------------------------

    async def links(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.call("connectors", "GET", "/links")
        return found

    async def quirks(self, charger_id: str) -> dict[str, int] | None:
        try:
            found = await self.call("edge", "GET", f"/chargers/{_path(charger_id)}/quirks")
        except Unavailable:
            return None
        return dict(found.get("rules_applied") or {})
