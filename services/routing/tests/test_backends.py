"""Backends: registration, validation messages, updates that republish, refused deletes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from nats.js.kv import KeyValue

from sy_bus import BackendRef, EffectiveRoute, streams


async def add_backend(client: httpx.AsyncClient, name: str, url: str | None = None) -> Any:
    body = {"name": name, "url": url or f"wss://{name}.example/ocpp", "ocpp_versions": ["ocpp1.6"]}
    created = await client.post("/backends", json=body)
    assert created.status_code == 201, created.text
    return created.json()


async def latest_version(client: httpx.AsyncClient) -> int:
    versions = (await client.get("/versions", params={"limit": 1})).json()
    return int(versions[0]["id"]) if versions else 0


async def route_in(kv: KeyValue, key: str) -> EffectiveRoute:
    entry = await kv.get(key)
    assert entry.value is not None
    return EffectiveRoute.from_bytes(entry.value)


async def test_register_list_and_show(client: httpx.AsyncClient, unique: str) -> None:
    name = f"legacy-{unique}"
    body = {
        "name": name,
        "url": "wss://legacy.example:9443/ocpp/",
        "ocpp_versions": ["ocpp2.0.1", "ocpp1.6", "ocpp2.0.1"],
        "reason": "first backend",
    }
    created = await client.post("/backends", json=body)
    assert created.status_code == 201, created.text
    out = created.json()
    assert out["url"] == "wss://legacy.example:9443/ocpp"  # connectors append /<chargerId>
    assert out["ocpp_versions"] == ["ocpp2.0.1", "ocpp1.6"]
    assert (await client.get(f"/backends/{name}")).json() == out
    assert [b["name"] for b in (await client.get("/backends")).json()] == [name]
    version = (await client.get("/versions")).json()[0]
    assert version["reason"] == "first backend"
    assert version["author"] == "bootstrap-admin"  # the caller, from its token
    assert version["change"]["op"] == "backend.added"
    assert version["change"]["backend"] == name


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("name", "Legacy CSMS", "lowercase letters, digits"),
        ("name", "-legacy", "starting with a letter or a digit"),
        ("name", "x" * 65, "1-64"),
        ("url", "http://legacy.example/ocpp", "must start with ws:// or wss://"),
        ("url", "wss:///ocpp", "has no host"),
        ("url", "wss://legacy.example/ocpp?token=1", "must not have a query"),
        ("url", "wss://me:secret@legacy.example/ocpp", "must not contain credentials"),
        ("url", "wss://legacy.example:port/ocpp", "cannot be parsed"),
        ("ocpp_versions", ["ocpp1.5"], "unknown OCPP version(s) 'ocpp1.5'"),
        ("ocpp_versions", ["OCPP1.6"], "use the subprotocol names ocpp1.6, ocpp2.0.1"),
        ("ocpp_versions", [], "list at least one OCPP version"),
    ],
)
async def test_bad_input_says_what_to_fix(
    client: httpx.AsyncClient, unique: str, field: str, value: Any, says: str
) -> None:
    body = {"name": f"b-{unique}", "url": "wss://b.example/ocpp", "ocpp_versions": ["ocpp1.6"]}
    body[field] = value
    refused = await client.post("/backends", json=body)
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["detail"]
    assert error["loc"] == ["body", field]
    assert says in error["msg"]
    assert (await client.get("/backends")).json() == []


async def test_duplicate_name_is_a_conflict(client: httpx.AsyncClient, unique: str) -> None:
    name = f"legacy-{unique}"
    first = await add_backend(client, name)
    again = await client.post(
        "/backends", json={"name": name, "url": "wss://other.example", "ocpp_versions": ["ocpp1.6"]}
    )
    assert again.status_code == 409
    assert again.json()["detail"] == (
        f"backend '{name}' already exists; change it with PUT /backends/{name}"
    )
    assert (await client.get(f"/backends/{name}")).json() == first


async def test_unknown_backend_is_not_found(client: httpx.AsyncClient, unique: str) -> None:
    missing = await client.get(f"/backends/nope-{unique}")
    assert missing.status_code == 404
    assert missing.json()["detail"] == (
        f"backend 'nope-{unique}' is not registered; add it with POST /backends"
    )


async def test_update_republishes_every_route_using_the_backend(
    client: httpx.AsyncClient, kv: KeyValue, unique: str
) -> None:
    moved, other = f"legacy-{unique}", f"new-{unique}"
    await add_backend(client, moved)
    await add_backend(client, other)
    on_moved, on_other = f"CP-A-{unique}", f"CP-B-{unique}"
    assert (await client.put("/routes/default", json={"primary": moved})).status_code == 200
    for charger, backend in ((on_moved, moved), (on_other, other)):
        put = await client.put(f"/routes/chargers/{charger}", json={"primary": backend})
        assert put.status_code == 200, put.text
    before_update = await latest_version(client)

    body = {"url": "wss://moved.example/v2/", "ocpp_versions": ["ocpp2.0.1"], "reason": "DNS move"}
    updated = await client.put(f"/backends/{moved}", json=body)

    assert updated.status_code == 200, updated.text
    assert updated.json()["url"] == "wss://moved.example/v2"
    version = await latest_version(client)
    assert version > before_update
    expected = EffectiveRoute(
        primary=BackendRef(moved, "wss://moved.example/v2", ["ocpp2.0.1"]), version=version
    )
    assert await route_in(kv, streams.DEFAULT_ROUTE_KEY) == expected
    assert await route_in(kv, streams.route_key(on_moved)) == expected
    untouched = await route_in(kv, streams.route_key(on_other))
    assert untouched.version == before_update
    assert untouched.primary.name == other


async def test_update_with_the_same_values_makes_no_version(
    client: httpx.AsyncClient, unique: str
) -> None:
    name = f"legacy-{unique}"
    out = await add_backend(client, name)
    version = await latest_version(client)
    same = {"url": out["url"] + "/", "ocpp_versions": out["ocpp_versions"]}
    again = await client.put(f"/backends/{name}", json=same)
    assert again.status_code == 200, again.text
    assert again.json() == out
    assert await latest_version(client) == version


async def test_deleting_a_backend_in_use_is_refused_saying_by_whom(
    client: httpx.AsyncClient, unique: str
) -> None:
    default, pinned = f"legacy-{unique}", f"new-{unique}"
    await add_backend(client, default)
    await add_backend(client, pinned)
    charger = f"CP.{unique}"
    await client.put("/routes/default", json={"primary": default})
    await client.put(f"/routes/chargers/{charger}", json={"primary": pinned})

    by_default = await client.delete(f"/backends/{default}")
    assert by_default.status_code == 409
    assert "the default route" in by_default.json()["detail"]
    by_charger = await client.delete(f"/backends/{pinned}")
    assert by_charger.status_code == 409
    assert f"chargers '{charger}'" in by_charger.json()["detail"]
    assert (await client.get(f"/backends/{pinned}")).status_code == 200

    assert (await client.delete(f"/routes/chargers/{charger}")).status_code == 204
    removed = await client.delete(f"/backends/{pinned}", params={"reason": "retired"})
    assert removed.status_code == 204
    assert (await client.get(f"/backends/{pinned}")).status_code == 404
    version = (await client.get("/versions")).json()[0]
    assert (version["reason"], version["change"]["op"]) == ("retired", "backend.removed")


async def test_credentials_by_reference_limits_and_per_version_urls_reach_the_data_plane(
    client: httpx.AsyncClient, kv: KeyValue, unique: str
) -> None:
    name = f"new-{unique}"
    body = {
        "name": name,
        "url": "wss://new.example/ocpp16",
        "ocpp_versions": ["ocpp1.6", "ocpp2.0.1"],
        "url_by_version": {"ocpp2.0.1": "wss://new.example/ocpp201/"},
        "auth": {"kind": "mtls", "cert_ref": "file:/run/secrets/new/tls.crt",
                 "key_ref": "file:/run/secrets/new/tls.key", "ca_ref": "env:NEW_CA"},
        "connect_rate_per_s": 20,
        "call_timeout_s": 15,
    }  # fmt: skip
    created = await client.post("/backends", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["auth"]["cert_ref"] == "file:/run/secrets/new/tls.crt"
    assert created.json()["url_by_version"] == {"ocpp2.0.1": "wss://new.example/ocpp201"}
    await client.put("/routes/chargers/CP-" + unique, json={"primary": name})

    ref = (await route_in(kv, streams.route_key("CP-" + unique))).primary

    assert ref.url_for("ocpp2.0.1") == "wss://new.example/ocpp201"
    assert ref.url_for("ocpp1.6") == "wss://new.example/ocpp16"
    assert (ref.auth.kind, ref.auth.key_ref, ref.auth.ca_ref) == (
        "mtls",
        "file:/run/secrets/new/tls.key",
        "env:NEW_CA",
    )
    assert (ref.connect_rate_per_s, ref.call_timeout_s) == (20, 15)

    auth = {"kind": "basic", "username": "CP", "password_ref": "env:NEW_PASSWORD"}
    basic = {"url": "ws://new.example/ocpp16", "ocpp_versions": ["ocpp1.6"], "auth": auth}
    assert (await client.put(f"/backends/{name}", json=basic)).status_code == 200
    ref = (await route_in(kv, streams.route_key("CP-" + unique))).primary
    assert (ref.auth.kind, ref.auth.username, ref.auth.password_ref, ref.auth.cert_ref) == (
        "basic",
        "CP",
        "env:NEW_PASSWORD",
        None,
    )
    assert ref.url_by_version == {}


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"auth": {"kind": "basic", "username": "u", "password": "hunter2"}}, "never takes"),
        ({"auth": {"kind": "basic", "username": "u", "password_ref": "hunter2"}}, "env:NAME"),
        ({"auth": {"kind": "basic", "username": "u", "password_ref": "file:rel/p"}}, "file:/"),
        ({"auth": {"kind": "basic", "username": "u"}}, "needs both username and password_ref"),
        ({"auth": {"kind": "mtls", "cert_ref": "env:C", "key_ref": "env:K"}}, "needs wss://"),
        ({"auth": {"cert_ref": "-----BEGIN CERTIFICATE-----"}}, "not the secret itself"),
        ({"url_by_version": {"ocpp2.0.1": "wss://x.example"}}, "not in ocpp_versions"),
        ({"connect_rate_per_s": 0}, "greater than 0"),
    ],
)
async def test_secrets_are_refused_and_credentials_must_be_complete(
    client: httpx.AsyncClient, unique: str, extra: dict[str, Any], says: str
) -> None:
    body = {"name": f"b-{unique}", "url": "ws://b.example/ocpp", "ocpp_versions": ["ocpp1.6"]}
    refused = await client.post("/backends", json={**body, **extra})
    assert refused.status_code == 422, refused.text
    assert says in str(refused.json()["detail"])
    assert "hunter2" not in refused.text  # a secret sent by mistake is not echoed back
