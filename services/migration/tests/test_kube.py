"""The in-cluster reconciler end to end: `kube.Cluster` over HTTP against an API server that
holds MigrationWave objects and, like the real one, refuses a status its CRD does not allow;
`kube.sync` with the service on real NATS and Postgres. No cluster is needed: the API server is
a small app on a real socket serving the two calls the reconciler makes (list, patch status)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import jsonschema
import nats
import pytest
import uvicorn
import yaml
from fastapi import FastAPI, HTTPException, Request
from nats.js.api import DeliverPolicy

from sy_devkit.embedded_nats import EmbeddedNats
from sy_devkit.inprocess import app_client, migrate
from sy_devkit.net import free_port
from sy_events import WaveTransition, parse_event
from sy_events.subjects import of_type
from sy_migration import kube
from sy_migration.app import build_app
from sy_migration.operations import Operations
from sy_migration.settings import MigrationSettings

ROOT = Path(__file__).resolve().parents[3]
CRD = yaml.safe_load((ROOT / "k8s" / "crds" / "migrationwave.yaml").read_text())
VERSION = CRD["spec"]["versions"][0]
STATUS_SCHEMA = VERSION["schema"]["openAPIV3Schema"]["properties"]["status"]
PILOT = yaml.safe_load((ROOT / "k8s" / "examples" / "wave-pilot.yaml").read_text())
NAMESPACE = "switchyard"


def _api_server(objects: dict[str, dict[str, Any]], patches: list[str]) -> FastAPI:
    """The MigrationWave part of a Kubernetes API server."""
    app = FastAPI()
    base = f"/apis/switchyard.io/v1alpha1/namespaces/{NAMESPACE}/migrationwaves"

    @app.get(base)
    async def list_waves() -> dict[str, Any]:
        return {"kind": "MigrationWaveList", "items": list(objects.values())}

    @app.patch(base + "/{name}/status")
    async def patch_status(name: str, request: Request) -> dict[str, Any]:
        if request.headers.get("content-type") != "application/merge-patch+json":
            raise HTTPException(415, "merge patch expected")
        if name not in objects:
            raise HTTPException(404, name)
        status = (await request.json())["status"]
        try:
            jsonschema.Draft7Validator(
                STATUS_SCHEMA, format_checker=jsonschema.FormatChecker()
            ).validate(status)
        except jsonschema.ValidationError as exc:
            raise HTTPException(422, exc.message) from None
        objects[name]["status"] = status
        patches.append(name)
        return objects[name]

    return app


@pytest.fixture
async def api_server() -> AsyncIterator[tuple[str, dict[str, dict[str, Any]], list[str]]]:
    objects: dict[str, dict[str, Any]] = {}
    patches: list[str] = []
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(_api_server(objects, patches), port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):  # uvicorn has no started event to await
        if server.started:
            break
        await asyncio.sleep(0.05)
    assert server.started, "the API server did not start"
    yield f"http://127.0.0.1:{port}", objects, patches
    server.should_exit = True
    await task


def _column(obj: dict[str, Any], json_path: str) -> Any:
    found: Any = obj
    for part in json_path.lstrip(".").split("."):
        found = found.get(part) if isinstance(found, dict) else None
    return found


async def test_sync_applies_the_object_and_writes_back_every_printer_column(
    nats_server: EmbeddedNats,
    new_database: Callable[[], str],
    api_server: tuple[str, dict[str, dict[str, Any]], list[str]],
) -> None:
    url, objects, patches = api_server
    pilot = copy.deepcopy(PILOT)
    pilot["metadata"].update(
        {"namespace": NAMESPACE, "generation": 1, "creationTimestamp": "2026-05-04T08:00:00Z"}
    )
    objects[pilot["metadata"]["name"]] = pilot
    db = new_database()
    await migrate("sy_migration", db)
    app = build_app(MigrationSettings(nats_url=nats_server.url, database_url=db))
    nc = await nats.connect(nats_server.url)
    try:
        async with app_client(app) as client:
            feed = await nc.jetstream().subscribe(
                of_type("wave_transition"), ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
            )
            ops: Operations = app.state.operations
            cluster = kube.Cluster(url, NAMESPACE, "sa-token", True)
            try:
                await kube.sync(cluster, ops.rt, ops)
                wave = (await client.get("/waves/pilot-berlin-depot")).json()
                patched_once = list(patches)
                await kube.sync(cluster, ops.rt, ops)  # nothing changed: no second write
            finally:
                await cluster.close()
            created = parse_event((await feed.next_msg(timeout=5)).data)
    finally:
        await nc.close()

    assert wave["metadata"]["annotations"] == {"switchyard.io/source": "kubernetes"}
    assert wave["transitions"][0]["actor"] == "kubernetes"
    assert isinstance(created, WaveTransition)
    assert (created.wave, created.actor, created.to_phase) == (
        "pilot-berlin-depot",
        "kubernetes",
        "Draft",
    )
    assert patched_once == patches == ["pilot-berlin-depot"]
    written = objects["pilot-berlin-depot"]
    status = written["status"]
    assert status["observedGeneration"] == 1
    applied = {c["type"]: c for c in status["conditions"]}["SpecApplied"]
    assert applied["status"] == "True"
    columns = {
        c["name"]: _column(written, c["jsonPath"]) for c in VERSION["additionalPrinterColumns"]
    }
    assert columns == {
        "Phase": "Draft",
        "Chargers": 0,
        "Progress": "0/0 (0%)",
        "Health": "Unknown",
        "Age": "2026-05-04T08:00:00Z",
    }


async def test_a_status_the_crd_refuses_is_an_error_the_loop_reports(
    api_server: tuple[str, dict[str, dict[str, Any]], list[str]],
) -> None:
    """The stand-in API server is strict, as the real one is: a status outside the CRD fails."""
    url, objects, _ = api_server
    objects["w"] = {"metadata": {"name": "w"}}
    cluster = kube.Cluster(url, NAMESPACE, "sa-token", True)
    try:
        with pytest.raises(Exception, match="422"):
            await cluster.write_status("w", {"phase": "Exploded"})
        assert [o["metadata"]["name"] for o in await cluster.waves()] == ["w"]
    finally:
        await cluster.close()
