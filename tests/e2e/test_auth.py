"""Every service's admin API refuses whoever does not belong, over real HTTP, with the whole suite
running: no token, a viewer changing something, an expired or revoked token. The mutating routes
are read from each service's own OpenAPI document, so a new route is covered the day it appears."""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nats
import pytest

from sy_bus import streams
from sy_devkit.auth import TEST_ADMIN_TOKEN
from sy_devkit.peers import CsmsPeer
from sy_devkit.pytest_plugin import RunningSuite
from sy_devkit.suite import SERVICES
from sy_platform.auth.tokens import TokenRecord, new_token

MUTATING = ("post", "put", "patch", "delete")
READING = ("get",)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # with every path parameter filled in

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def _operations(spec: dict[str, Any], methods: tuple[str, ...]) -> list[Operation]:
    found = []
    for template, item in spec["paths"].items():
        path = re.sub(r"\{[^}]+\}", "probe-x", template)
        for method in item:
            if method in methods:
                found.append(Operation(method, path))
    return found


async def _spec(api: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=api) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200, "the OpenAPI document stays open for tools"
    spec: dict[str, Any] = response.json()
    return spec


async def _call(api: str, op: Operation, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {} if op.method in ("post", "put", "patch") else None
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=10) as client:
        return await client.request(op.method.upper(), op.path, json=body)


async def _create_token(suite: RunningSuite, roles: list[str], **extra: Any) -> tuple[str, str]:
    """A new named token made through routing's /tokens by the test admin: (name, token)."""
    name = f"t-{'-'.join(roles)}-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=suite.api("routing"), headers=suite.admin_headers) as api:
        created = await api.post("/tokens", json={"name": name, "roles": roles, **extra})
    assert created.status_code == 201, created.text
    return name, str(created.json()["token"])


async def _until_known(suite: RunningSuite, token: str) -> None:
    """Every service mirrors the token bucket; wait until each one knows the new token."""
    deadline = asyncio.get_running_loop().time() + 10
    for service in SERVICES:
        while True:
            response = await _call(suite.api(service), Operation("get", "/audit"), token)
            if response.status_code != 401:
                break
            assert asyncio.get_running_loop().time() < deadline, f"{service} never saw the token"
            await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
async def viewer(suite: RunningSuite) -> str:
    _, token = await _create_token(suite, ["viewer"])
    await _until_known(suite, token)
    return token


@pytest.mark.parametrize("service", SERVICES)
async def test_no_token_is_refused_with_a_bearer_challenge(
    suite: RunningSuite, service: str
) -> None:
    api = suite.api(service)
    spec = await _spec(api)
    operations = [*_operations(spec, MUTATING), Operation("get", "/audit")]
    for op in operations:
        response = await _call(api, op, None)
        assert response.status_code == 401, f"{service} {op}: {response.status_code}"
        assert response.headers.get("WWW-Authenticate") == "Bearer", f"{service} {op}"
        wrong = await _call(api, op, "sy_000000000000_not-a-real-secret")
        assert wrong.status_code == 401, f"{service} {op} with an unknown token"


@pytest.mark.parametrize("service", SERVICES)
async def test_probes_stay_open(suite: RunningSuite, service: str) -> None:
    async with httpx.AsyncClient(base_url=suite.api(service)) as client:
        for path in ("/healthz", "/readyz", "/metrics"):
            assert (await client.get(path)).status_code == 200, f"{service} {path}"


@pytest.mark.parametrize("service", SERVICES)
async def test_a_viewer_reads_but_changes_nothing(
    routed: RunningSuite, viewer: str, service: str
) -> None:
    api = routed.api(service)
    spec = await _spec(api)
    for op in _operations(spec, MUTATING):
        response = await _call(api, op, viewer)
        assert response.status_code == 403, f"{service} {op}: {response.status_code}"
        assert "viewer" in response.json()["detail"]
    for op in _operations(spec, READING):
        if op.path in ("/openapi.json", "/docs", "/redoc"):
            continue
        as_viewer = await _call(api, op, viewer)
        as_admin = await _call(api, op, TEST_ADMIN_TOKEN)
        assert as_viewer.status_code != 401, f"{service} {op}"
        if as_viewer.status_code == 403:  # a read of its own for admins (tokens, credentials)
            assert "needs the admin role" in as_viewer.json()["detail"], f"{service} {op}"
            assert as_admin.status_code != 403, f"{service} {op}"
        else:  # the viewer sees what the admin sees (200, or 404/422 for invented input)
            assert as_viewer.status_code == as_admin.status_code, f"{service} {op}"
        if op.path == "/audit":
            assert as_viewer.status_code == 200


def test_routing_has_mutating_routes_to_check(suite: RunningSuite) -> None:
    """Guards the discovery itself: if it found nothing, the tests above would prove nothing."""
    spec = httpx.get(suite.api("routing") + "/openapi.json").json()
    found = {str(op) for op in _operations(spec, MUTATING)}
    assert {"PUT /routes/default", "POST /backends", "POST /tokens"} <= found


async def test_an_expired_token_is_refused_everywhere(suite: RunningSuite) -> None:
    token_id, token, digest = new_token()
    past = datetime.now(UTC) - timedelta(minutes=1)
    record = TokenRecord(
        token_id=token_id,
        name=f"expired-{token_id}",
        digest=digest,
        roles=["admin"],
        created_at=(past - timedelta(days=1)).isoformat(),
        expires_at=past.isoformat(),
        created_by="test",
    )
    nc = await nats.connect(suite.nats_url)
    try:
        kv = await nc.jetstream().key_value(streams.API_TOKENS.name)
        await kv.put(token_id, record.to_bytes())
    finally:
        await nc.close()
    await asyncio.sleep(0.3)  # let every service's mirror catch up
    for service in SERVICES:
        response = await _call(suite.api(service), Operation("get", "/audit"), token)
        assert response.status_code == 401, service
        assert response.json()["detail"] == "token expired"


async def test_a_revoked_token_is_refused_everywhere(suite: RunningSuite) -> None:
    name, token = await _create_token(suite, ["operator"])
    await _until_known(suite, token)
    async with httpx.AsyncClient(base_url=suite.api("routing"), headers=suite.admin_headers) as api:
        revoked = await api.delete(f"/tokens/{name}", params={"reason": "left the team"})
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["revoked_at"]
        listed = (await api.get("/tokens")).json()
    assert all("token" not in t and "digest" not in t for t in listed), "secrets never listed"
    deadline = asyncio.get_running_loop().time() + 10
    for service in SERVICES:
        while True:
            response = await _call(suite.api(service), Operation("get", "/audit"), token)
            if response.status_code == 401:
                assert response.json()["detail"] == "token revoked"
                break
            assert asyncio.get_running_loop().time() < deadline, f"{service} still accepts it"
            await asyncio.sleep(0.05)


async def test_only_admins_manage_backends_and_tokens(suite: RunningSuite) -> None:
    _, operator = await _create_token(suite, ["operator"])
    await _until_known(suite, operator)
    headers = {"Authorization": f"Bearer {operator}"}
    async with httpx.AsyncClient(base_url=suite.api("routing"), headers=headers) as api:
        backend = {"name": "op-made", "url": "ws://127.0.0.1:9/ocpp", "ocpp_versions": ["ocpp1.6"]}
        assert (await api.post("/backends", json=backend)).status_code == 403
        assert (await api.get("/tokens")).status_code == 403
        made = await api.post("/tokens", json={"name": "escalate", "roles": ["admin"]})
        assert made.status_code == 403


async def test_an_operators_route_change_is_audited_with_its_reason(
    suite: RunningSuite, csms: CsmsPeer
) -> None:
    async with httpx.AsyncClient(base_url=suite.api("routing"), headers=suite.admin_headers) as api:
        backend = {"name": "audited", "url": csms.url, "ocpp_versions": ["ocpp1.6"]}
        added = await api.post("/backends", json=backend)
        assert added.status_code in (201, 409), added.text
    name, operator = await _create_token(suite, ["operator"])
    await _until_known(suite, operator)
    charger = f"CP-audit-{uuid.uuid4().hex[:6]}"
    reason = f"move {charger} for the pilot, ticket OPS-{uuid.uuid4().hex[:4]}"
    headers = {"Authorization": f"Bearer {operator}"}
    async with httpx.AsyncClient(base_url=suite.api("routing"), headers=headers) as api:
        changed = await api.put(
            f"/routes/chargers/{charger}", json={"primary": "audited", "reason": reason}
        )
        assert changed.status_code == 200, changed.text
        trail = await api.get("/audit", params={"actor": name})
    assert trail.status_code == 200, trail.text
    entries = [e for e in trail.json() if e["path"] == f"/routes/chargers/{charger}"]
    assert len(entries) == 1, trail.json()
    entry = entries[0]
    assert entry["actor"] == name and entry["actor_kind"] == "token"
    assert entry["reason"] == reason
    assert entry["method"] == "PUT" and entry["status"] == 200
    assert charger in entry["resource"]


async def test_refused_changes_are_audited_too(suite: RunningSuite, viewer: str) -> None:
    async with httpx.AsyncClient(base_url=suite.api("routing")) as api:
        refused = await api.put("/routes/default", json={"primary": "x", "reason": "sneaky"})
        assert refused.status_code == 401
        trail = await api.get(
            "/audit", params={"actor": "anonymous"}, headers={"Authorization": f"Bearer {viewer}"}
        )
    assert trail.status_code == 200
    assert any(e["path"] == "/routes/default" and e["status"] == 401 for e in trail.json()), (
        "a refused call is recorded, with 'anonymous' as its actor"
    )
