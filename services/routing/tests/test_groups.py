"""Groups, group routes with shadows and ACLs, precedence, attributes that move traffic."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from sy_bus import EffectiveRoute, streams


async def add_backend(client: httpx.AsyncClient, name: str) -> None:
    body = {"name": name, "url": f"wss://{name}.example/ocpp", "ocpp_versions": ["ocpp1.6"]}
    created = await client.post("/backends", json=body)
    assert created.status_code == 201, created.text


async def register(client: httpx.AsyncClient, charger: str, **attrs: Any) -> Any:
    created = await client.post("/chargers", json={"charger_id": charger, **attrs})
    assert created.status_code == 201, created.text
    return created.json()


async def route_in(kv: KeyValue, key: str) -> EffectiveRoute:
    entry = await kv.get(key)
    assert entry.value is not None
    return EffectiveRoute.from_bytes(entry.value)


async def versions(client: httpx.AsyncClient) -> list[Any]:
    return list((await client.get("/versions")).json())


@pytest.fixture
async def backends(client: httpx.AsyncClient, unique: str) -> tuple[str, str, str]:
    names = (f"legacy-{unique}", f"new-{unique}", f"spare-{unique}")
    for name in names:
        await add_backend(client, name)
    await client.put("/routes/default", json={"primary": names[0]})
    return names


async def test_selector_group_members_are_computed_from_attributes(
    client: httpx.AsyncClient, unique: str
) -> None:
    await register(client, f"A1-{unique}", vendor="Acme", model="AC22-Pro", site="Berlin")
    await register(client, f"A2-{unique}", vendor="ACME", model="AC11", site="Berlin")
    await register(client, f"B1-{unique}", vendor="Bolt", model="AC22", site="Berlin")
    body = {"name": f"acme-{unique}", "where": {"vendor": ["acme"], "model": ["AC22*"]},
            "reason": "wave 1"}  # fmt: skip

    created = await client.post("/groups", json=body)

    assert created.status_code == 201, created.text
    assert created.json()["members"] == [f"A1-{unique}"]
    shown = (await client.get(f"/groups/acme-{unique}")).json()
    assert (shown["member_count"], shown["route"]) == (1, None)
    listed = (await client.get("/groups")).json()
    assert [(g["name"], g["member_count"], g["members"]) for g in listed] == [
        (f"acme-{unique}", 1, None)
    ]
    assert (await versions(client))[0]["change"]["op"] == "group.created"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "either 'where'"),
        ({"where": {"vendor": ["x"]}, "chargers": ["CP"]}, "either 'where'"),
        ({"where": {}}, "at least one attribute"),
        ({"where": {"colour": ["red"]}}, "Extra inputs are not permitted"),
        ({"chargers": ["C" * 49]}, "1-48 characters"),
    ],
)
async def test_bad_groups_say_what_to_fix(
    client: httpx.AsyncClient, unique: str, body: dict[str, Any], says: str
) -> None:
    refused = await client.post("/groups", json={"name": f"g-{unique}", **body})
    assert refused.status_code == 422, refused.text
    assert says in str(refused.json()["detail"])


async def test_group_route_with_shadow_is_published_for_its_members_only(
    client: httpx.AsyncClient, kv: KeyValue, unique: str, backends: tuple[str, str, str]
) -> None:
    legacy, new, spare = backends
    listed, other = f"CP-1-{unique}", f"CP-2-{unique}"
    await client.post("/groups", json={"name": f"pilot-{unique}", "chargers": [listed]})
    body = {"primary": new, "shadows": [{"backend": legacy}, {"backend": spare, "commands": None}],
            "reason": "pilot on the new CSMS"}  # fmt: skip

    put = await client.put(f"/routes/groups/pilot-{unique}", json=body)

    assert put.status_code == 200, put.text
    out = put.json()
    assert (out["source"], out["group"], out["priority"], out["kv_key"]) == (
        "group",
        f"pilot-{unique}",
        10,
        None,
    )
    route = await route_in(kv, streams.route_key(listed))
    assert route.primary.name == new and route.primary.commands is None
    assert [(s.name, s.commands) for s in route.shadows] == [(legacy, []), (spare, None)]
    with pytest.raises(KeyNotFoundError):  # not in the group: follows the default key
        await kv.get(streams.route_key(other))
    seen = (await client.get(f"/routes/chargers/{listed}")).json()
    assert (seen["source"], seen["group"], seen["kv_key"]) == (
        "group",
        f"pilot-{unique}",
        streams.route_key(listed),
    )
    assert (await client.get(f"/routes/chargers/{other}")).json()["source"] == "default"
    assert (await client.get("/routes")).json()["groups"][0]["group"] == f"pilot-{unique}"


async def test_charger_route_beats_groups_and_groups_go_by_priority(
    client: httpx.AsyncClient, kv: KeyValue, unique: str, backends: tuple[str, str, str]
) -> None:
    legacy, new, spare = backends
    cp = f"CP-{unique}"
    await register(client, cp, site="Berlin", criticality="high")
    await client.post("/groups", json={"name": f"berlin-{unique}", "where": {"site": ["Berlin"]}})
    await client.post(
        "/groups", json={"name": f"high-{unique}", "where": {"criticality": ["high"]}}
    )
    await client.put(f"/routes/groups/berlin-{unique}", json={"primary": new, "priority": 20})
    await client.put(f"/routes/groups/high-{unique}", json={"primary": spare, "priority": 10})
    assert (await route_in(kv, streams.route_key(cp))).primary.name == spare

    taken = await client.put(
        f"/routes/groups/berlin-{unique}", json={"primary": new, "priority": 10}
    )
    assert taken.status_code == 409
    assert f"taken by group 'high-{unique}'" in taken.json()["detail"]

    await client.put(f"/routes/groups/berlin-{unique}", json={"primary": new, "priority": 5})
    assert (await route_in(kv, streams.route_key(cp))).primary.name == new
    await client.put(f"/routes/chargers/{cp}", json={"primary": legacy})
    assert (await route_in(kv, streams.route_key(cp))).primary.name == legacy
    await client.delete(f"/routes/chargers/{cp}")
    assert (await route_in(kv, streams.route_key(cp))).primary.name == new  # back to its group
    await client.delete(f"/routes/groups/berlin-{unique}")
    await client.delete(f"/routes/groups/high-{unique}")
    with pytest.raises(KeyNotFoundError):
        await kv.get(streams.route_key(cp))


async def test_shadow_acl_and_duplicate_backends(
    client: httpx.AsyncClient, kv: KeyValue, unique: str, backends: tuple[str, str, str]
) -> None:
    legacy, new, _ = backends
    cp = f"CP-{unique}"
    body = {"primary": legacy, "commands": ["RemoteStartTransaction", "Reset"],
            "shadows": [{"backend": new, "commands": ["TriggerMessage"]}]}  # fmt: skip
    assert (await client.put(f"/routes/chargers/{cp}", json=body)).status_code == 200
    route = await route_in(kv, streams.route_key(cp))
    assert route.primary.commands == ["RemoteStartTransaction", "Reset"]
    assert route.shadows[0].commands == ["TriggerMessage"]

    typo = await client.put(
        f"/routes/chargers/{cp}", json={"primary": legacy, "commands": ["RemoteStart"]}
    )
    assert typo.status_code == 422
    assert "'RemoteStart' not backend-initiated" in str(typo.json()["detail"])
    twice = await client.put(
        f"/routes/chargers/{cp}", json={"primary": legacy, "shadows": [{"backend": legacy}]}
    )
    assert twice.status_code == 422
    assert "more than once" in str(twice.json()["detail"])


async def test_attributes_that_move_a_charger_make_a_version_others_do_not(
    client: httpx.AsyncClient, kv: KeyValue, unique: str, backends: tuple[str, str, str]
) -> None:
    _, new, _ = backends
    cp = f"CP-{unique}"
    await register(client, cp, site="Hamburg")
    await client.post("/groups", json={"name": f"pilot-{unique}", "where": {"tags": ["pilot"]}})
    await client.put(f"/routes/groups/pilot-{unique}", json={"primary": new})
    before = len(await versions(client))

    quiet = await client.patch(f"/chargers/{cp}", json={"site": "Berlin", "criticality": "high"})
    assert quiet.status_code == 200, quiet.text
    assert len(await versions(client)) == before  # no route moved: no version
    moved = await client.patch(f"/chargers/{cp}", json={"add_tags": ["pilot"], "reason": "join"})

    assert moved.json()["groups"] == [f"pilot-{unique}"]
    assert moved.json()["route"] == {"source": "group", "group": f"pilot-{unique}",
                                     "primary": new, "shadows": []}  # fmt: skip
    [latest] = (await client.get("/versions", params={"limit": 1})).json()
    assert (latest["author"], latest["reason"], latest["change"]["moved"]) == (
        "bootstrap-admin",
        "join",
        [cp],
    )
    assert (await route_in(kv, streams.route_key(cp))).version == latest["id"]
    listed = (await client.get("/chargers", params={"tag": "pilot", "site": "ber*"})).json()
    assert [c["charger_id"] for c in listed] == [cp]
    assert (await client.get("/chargers", params={"site": "Hamburg"})).json() == []
    assert (await client.get(f"/chargers/{cp}")).json()["tags"] == ["pilot"]


async def test_a_routed_group_cannot_be_removed(
    client: httpx.AsyncClient, unique: str, backends: tuple[str, str, str]
) -> None:
    await client.post("/groups", json={"name": f"g-{unique}", "chargers": ["CP-1"]})
    await client.put(f"/routes/groups/g-{unique}", json={"primary": backends[1]})
    refused = await client.delete(f"/groups/g-{unique}")
    assert refused.status_code == 409
    assert "still has a route" in refused.json()["detail"]
    in_use = await client.delete(f"/backends/{backends[1]}")
    assert in_use.status_code == 409
    assert f"groups 'g-{unique}'" in in_use.json()["detail"]
    assert (await client.delete(f"/routes/groups/g-{unique}")).status_code == 204
    assert (await client.delete(f"/groups/g-{unique}")).status_code == 204
    assert (await client.get(f"/groups/g-{unique}")).status_code == 404
