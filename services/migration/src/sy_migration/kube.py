"""Kubernetes: MigrationWave objects of the cluster drive the same waves as the REST API.

`reconcile(wave_object, current)` is pure: given the object as the API server holds it and the
wave as this service knows it (or None), it returns what to do (apply the spec, roll back) and
the `.status` to write back. `Cluster` is a thin client of the Kubernetes REST API (httpx with
the pod's service account token), and `run` loops while this replica drives the waves.

Operators roll back from kubectl with an annotation, since a spec is desired state and a
rollback is an act: `kubectl annotate migrationwave NAME switchyard.io/rollback="reason"`.
Sign-off stays with `switchyard wave signoff` (or REST), where the signer is authenticated.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from sy_migration import store
from sy_migration.lifecycle import EDITABLE, MOVED, Phase, Refused
from sy_migration.models import Wave
from sy_migration.operations import Operations, plan_name
from sy_migration.settings import MigrationSettings
from sy_migration.spec import WaveManifest, parse_manifests
from sy_migration.transitions import announce
from sy_platform import Runtime

log = logging.getLogger(__name__)
SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
GROUP, VERSION, PLURAL = "switchyard.io", "v1alpha1", "migrationwaves"
ROLLBACK_ANNOTATION = "switchyard.io/rollback"
START_ANNOTATION = "switchyard.io/start"
INTERVAL_S = 5.0


@dataclass(frozen=True, slots=True)
class Action:
    kind: str  # "apply", "start", "rollback"
    manifest: WaveManifest | None = None
    reason: str = ""


@dataclass
class Reconciled:
    actions: list[Action] = field(default_factory=list)
    status: dict[str, Any] = field(default_factory=dict)


def _condition(kind: str, ok: bool, reason: str, message: str, at: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message[:32000],
        "lastTransitionTime": at,
    }


def reconcile(wave_object: dict[str, Any], current: dict[str, Any] | None) -> Reconciled:
    """What to do for one MigrationWave object. `current` is `store.describe()` of the wave
    of the same name, or None when the service does not know it yet."""
    meta = wave_object.get("metadata") or {}
    generation = meta.get("generation")
    at = meta.get("creationTimestamp") or "1970-01-01T00:00:00Z"
    previous = wave_object.get("status") or {}
    try:
        (manifest,) = parse_manifests([wave_object])
    except (ValidationError, ValueError) as exc:
        invalid = {
            **{k: v for k, v in previous.items() if k != "conditions"},
            "phase": previous.get("phase", "Draft"),
            "health": previous.get("health", "Unknown"),
            "conditions": [_condition("SpecValid", False, "Invalid", str(exc), at)],
        }
        return Reconciled([], invalid)
    out = Reconciled()
    phase = Phase(current["status"]["phase"]) if current else Phase.DRAFT
    spec_differs = current is None or current["spec"] != manifest.spec.doc()
    labels_differ = current is not None and {
        k: v for k, v in current["metadata"]["labels"].items()
    } != {
        **manifest.metadata.labels,
        **({} if not manifest.plan else {"switchyard.io/plan": manifest.plan}),
    }
    refused = None
    if spec_differs or (labels_differ and current is not None and phase in EDITABLE):
        if phase in EDITABLE:
            out.actions.append(Action("apply", manifest))
        else:
            refused = (
                f"the spec changed while the wave is {phase.value}; it applies only after"
                " a rollback"
            )
    annotations = manifest.metadata.annotations
    if ROLLBACK_ANNOTATION in annotations and phase in MOVED:
        out.actions.append(Action("rollback", reason=annotations[ROLLBACK_ANNOTATION] or "kubectl"))
    if annotations.get(START_ANNOTATION) == "true" and phase is Phase.READY:
        out.actions.append(Action("start", reason="kubectl annotation switchyard.io/start"))
    if current is None:
        status: dict[str, Any] = {
            "phase": "Draft",
            "chargers": {"total": 0, "cutOver": 0, "pending": 0, "rolledBack": 0},
            "progress": "0/0 (0%)",
            "health": "Unknown",
            "conditions": [],
        }
    else:
        allowed = (
            "phase",
            "chargers",
            "progress",
            "health",
            "conditions",
            "signedOffBy",
            "signedOffAt",
            "observedGeneration",
        )
        status = {k: v for k, v in current["status"].items() if k in allowed}
        status["conditions"] = list(status.get("conditions", []))
    if generation is not None and not spec_differs:
        status["observedGeneration"] = generation
    else:
        status.pop("observedGeneration", None)
    status["conditions"].append(
        _condition(
            "SpecApplied",
            refused is None,
            "Refused" if refused else "Applied",
            refused or "the service runs this spec",
            at,
        )
    )
    out.status = status
    return out


def enabled(settings: MigrationSettings) -> bool:
    if settings.kubernetes is not None:
        return settings.kubernetes
    return (SA_DIR / "token").exists()


class Cluster:
    """The MigrationWave objects of one namespace, over the Kubernetes REST API."""

    def __init__(self, api: str, namespace: str, token: str, ca: str | bool) -> None:
        self.namespace = namespace
        self._client = httpx.AsyncClient(
            base_url=api.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            verify=ca,
            timeout=15,
        )

    @classmethod
    def in_pod(cls, settings: MigrationSettings) -> Cluster:
        namespace = settings.kubernetes_namespace or (
            (SA_DIR / "namespace").read_text().strip()
            if (SA_DIR / "namespace").exists()
            else os.environ.get("POD_NAMESPACE", "default")
        )
        token = (SA_DIR / "token").read_text().strip() if (SA_DIR / "token").exists() else ""
        ca: str | bool = str(SA_DIR / "ca.crt") if (SA_DIR / "ca.crt").exists() else True
        return cls(settings.kubernetes_api, namespace, token, ca)

    def _path(self, name: str = "") -> str:
        base = f"/apis/{GROUP}/{VERSION}/namespaces/{self.namespace}/{PLURAL}"
        return f"{base}/{name}" if name else base

    async def waves(self) -> list[dict[str, Any]]:
        response = await self._client.get(self._path())
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json().get("items", [])
        return items

    async def write_status(self, name: str, status: dict[str, Any]) -> None:
        response = await self._client.patch(
            self._path(name) + "/status",
            json={"status": status},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        response.raise_for_status()

    async def close(self) -> None:
        await self._client.aclose()


async def _current(rt: Runtime, name: str) -> dict[str, Any] | None:
    from sqlalchemy import select

    async with rt.sessions() as session:
        wave = await session.scalar(select(Wave).where(Wave.name == name))
        if wave is None:
            return None
        return store.describe(wave, await plan_name(session, wave))


async def sync(cluster: Cluster, rt: Runtime, ops: Operations) -> None:
    """One pass over the namespace's waves."""
    for obj in await cluster.waves():
        name = obj["metadata"]["name"]
        result = reconcile(obj, await _current(rt, name))
        for action in result.actions:
            try:
                if action.kind == "apply" and action.manifest is not None:
                    async with rt.sessions() as session, session.begin():
                        _, _, applied = await store.apply(
                            session,
                            action.manifest,
                            actor="kubernetes",
                            source="kubernetes",
                            namespace=cluster.namespace,
                        )
                    if applied is not None:
                        await announce(rt.js, applied, audited=False)
                elif action.kind == "rollback":
                    done = await ops.rollback(name, actor="kubernetes", reason=action.reason)
                    if done.announcement:
                        await announce(rt.js, done.announcement, audited=False)
                elif action.kind == "start":
                    done = await ops.start(name, actor="kubernetes", reason=action.reason)
                    if done.announcement:
                        await announce(rt.js, done.announcement, audited=False)
            except (Refused, LookupError) as exc:
                log.info("wave %s: %s not applied: %s", name, action.kind, exc)
        if result.actions:
            result = reconcile(obj, await _current(rt, name))
        if result.status != (obj.get("status") or {}):
            await cluster.write_status(name, result.status)


async def run(cluster: Cluster, rt: Runtime, ops: Operations, controller: Any) -> None:
    log.info("reconciling MigrationWave objects in namespace %s", cluster.namespace)
    try:
        while True:
            if controller.leader:
                try:
                    await sync(cluster, rt, ops)
                except Exception as exc:  # the API server may be away for a moment
                    log.warning("MigrationWave sync failed: %r", exc)
            await asyncio.sleep(INTERVAL_S)
    finally:
        await cluster.close()


__all__ = ["Action", "Cluster", "Reconciled", "enabled", "reconcile", "run", "sync"]
