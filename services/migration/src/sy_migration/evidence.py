"""Decommission evidence for a backend: proof that the old CSMS can be switched off.

Four checks, each with its figures: no charger is routed to it (routing: primary or shadow, by
any route) and no socket to it remains (connectors), its last traffic (journal frames), its
sessions reconciled (journal), and historical data exported (exports this service made and
recorded, covering its last traffic). `render_markdown` turns the JSON into the document an
operator attaches to the decommission ticket. Gathering asks the services; rendering is pure.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sy_migration.clients import Services

WINDOWS = (
    timedelta(hours=1),
    timedelta(days=1),
    timedelta(days=7),
    timedelta(days=30),
    timedelta(days=90),
)
EXPORT_KINDS = ("sessions", "events", "status")


def _at(value: str | datetime) -> datetime:
    return (
        value
        if isinstance(value, datetime)
        else datetime.fromisoformat(value.replace("Z", "+00:00"))
    )


def _uses(route: dict[str, Any] | None, backend: str) -> bool:
    if not route:
        return False
    names = [route["primary"]["name"], *(s["name"] for s in route.get("shadows", []))]
    return backend in names


async def last_traffic(services: Services, backend: str) -> tuple[str | None, bool]:
    """The capture time of the newest frame on `backend`'s upstreams (within 90 days), and
    whether a journal row limit may hide newer frames."""
    now = datetime.now(UTC)
    until, truncated = now, False
    for window in WINDOWS:
        since = now - window
        newest = None
        for direction in ("to_backend", "from_backend"):
            frames = await services.frames(since, until=until, direction=direction)
            truncated = truncated or len(frames) >= 10_000
            mine = [f["ts"] for f in frames if f.get("backend") == backend]
            if mine:
                newest = max([newest, *mine] if newest else mine)
        if newest:
            return newest, truncated
        until = since
    return None, truncated


async def gather(services: Services, backend: str, exports: list[dict[str, Any]]) -> dict[str, Any]:
    now = datetime.now(UTC)
    table = await services.routes()
    routes = []
    if _uses(table.get("default"), backend):
        routes.append("default route")
    routes += [f"group route {g['group']}" for g in table.get("groups", []) if _uses(g, backend)]
    routes += [
        f"charger route {c['charger_id']}" for c in table.get("chargers", []) if _uses(c, backend)
    ]
    fleet = await services.fleet()
    routed = sorted(
        c["charger_id"]
        for c in fleet
        if c["route"].get("primary") == backend or backend in c["route"].get("shadows", [])
    )
    sockets = [
        {
            "charger_id": link["charger_id"],
            "role": u["role"],
            "open_transactions": u["open_transactions"],
        }
        for link in await services.links()
        for u in link["upstreams"]
        if u["backend"] == backend
    ]
    last, truncated = await last_traffic(services, backend)
    recon = await services.reconciliation(backend, now - timedelta(days=365))
    covered = {e["kind"] for e in exports if last is None or _at(e["until"]) >= _at(last)}
    missing_exports = [k for k in EXPORT_KINDS if k not in covered]
    checks = [
        {
            "name": "unrouted",
            "ok": not routes and not routed,
            "message": "no route names the backend and no charger follows it"
            if not routes and not routed
            else f"still used by {', '.join(routes) or 'no route'}; "
            f"{len(routed)} chargers follow it",
        },
        {
            "name": "no_sockets",
            "ok": not sockets,
            "message": "the connectors hold no socket to it"
            if not sockets
            else f"{len(sockets)} sockets still open to it (roles: "
            f"{', '.join(sorted({s['role'] for s in sockets}))})",
        },
        {
            "name": "reconciled",
            "ok": not recon["differences"],
            "message": f"{recon['sessions_seen']} sessions seen, "
            f"{recon['sent_to_backend']} sent to "
            f"it, {recon['acknowledged']} acknowledged, {len(recon['differences'])} differences",
        },
        {
            "name": "exported",
            "ok": not missing_exports,
            "message": "sessions, events and status exported after its last traffic"
            if not missing_exports
            else f"no export covering its last traffic for: {', '.join(missing_exports)} "
            f"(POST /evidence/{backend}/exports)",
        },
    ]
    return {
        "backend": backend,
        "generated_at": now.isoformat(),
        "ready_to_decommission": all(c["ok"] for c in checks),
        "checks": checks,
        "routing": {"routes": routes, "chargers": routed, "version": table.get("version")},
        "sockets": sockets,
        "last_traffic": last,
        "last_traffic_may_be_newer": truncated,
        "reconciliation": {
            k: recon[k]
            for k in ("since", "sessions_seen", "sent_to_backend", "acknowledged", "not_sent")
        }
        | {"differences": recon["differences"][:50], "truncated": recon["truncated"]},
        "exports": exports,
    }


def render_markdown(evidence: dict[str, Any]) -> str:
    backend = evidence["backend"]
    verdict = "READY to decommission" if evidence["ready_to_decommission"] else "NOT ready"
    lines = [
        f"# Decommission evidence: backend `{backend}`",
        "",
        f"Generated {evidence['generated_at']} by the Switchyard migration service. **{verdict}.**",
        "",
        "| check | holds | evidence |",
        "|---|---|---|",
    ]
    for check in evidence["checks"]:
        lines.append(
            f"| {check['name']} | {'yes' if check['ok'] else '**no**'} | {check['message']} |"
        )
    routing = evidence["routing"]
    lines += ["", "## Routing", "", f"Routing-table version {routing['version']}."]
    if routing["routes"] or routing["chargers"]:
        lines.append(f"Routes naming it: {', '.join(routing['routes']) or 'none'}.")
        lines.append(
            f"Chargers following it ({len(routing['chargers'])}): "
            + ", ".join(routing["chargers"][:50])
        )
    else:
        lines.append("No route names the backend; no charger follows it.")
    lines += ["", "## Last traffic", ""]
    last = evidence["last_traffic"]
    lines.append(
        f"Newest frame on its upstreams: {last}."
        if last
        else "No frame on its upstreams in the last 90 days."
    )
    if evidence["last_traffic_may_be_newer"]:
        lines.append("(The journal answered its row limit for a window: newer frames may exist.)")
    if evidence["sockets"]:
        lines.append(f"Sockets still open: {len(evidence['sockets'])}.")
    recon = evidence["reconciliation"]
    lines += [
        "",
        "## Sessions reconciled",
        "",
        f"Since {recon['since']}: {recon['sessions_seen']} sessions seen, "
        f"{recon['sent_to_backend']} sent to `{backend}`, {recon['acknowledged']} fully "
        f"acknowledged, {recon['not_sent']} never sent.",
    ]
    for diff in recon["differences"][:20]:
        lines.append(
            f"- {diff['gateway_transaction_id']} on {diff['charger_id']}: "
            f"{', '.join(diff['problems'])}"
        )
    lines += ["", "## Historical data exported", ""]
    if evidence["exports"]:
        lines += ["| kind | until | rows | sha256 | location | by |", "|---|---|---|---|---|---|"]
        for e in evidence["exports"]:
            lines.append(
                f"| {e['kind']} | {e['until']} | {e['rows']} | `{e['sha256'][:16]}…` | "
                f"{e['location']} | {e['created_by']} |"
            )
    else:
        lines.append("No export recorded yet.")
    return "\n".join(lines) + "\n"
