"""The API commands: one function per CLI action."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sy_cli.http import request
from sy_cli.output import emit, print_table

ARROWS = {
    "from_charger": "charger  -> gateway",
    "to_backend": "gateway  -> backend",
    "from_backend": "backend  -> gateway",
    "to_charger": "gateway  -> charger",
}


def backend_add(name: str, url: str, versions: list[str], reason: str, as_json: bool) -> None:
    body = {"name": name, "url": url, "ocpp_versions": versions, "reason": reason}
    created = request("routing", "POST", "/backends", json=body)
    emit(created, as_json=as_json, columns=("name", "url", "ocpp_versions"))


def backend_list(as_json: bool) -> None:
    backends = request("routing", "GET", "/backends")
    emit(backends, as_json=as_json, columns=("name", "url", "ocpp_versions"), empty="no backends")


ROUTE_COLUMNS = ("charger", "primary", "url", "updated_at")


def _route_row(route: dict[str, Any]) -> dict[str, Any]:
    return {
        "charger": route.get("charger_id") or "(default)",
        "primary": route["primary"]["name"],
        "url": route["primary"]["url"],
        "updated_at": route.get("updated_at"),
    }


def route_default(backend: str, reason: str, as_json: bool) -> None:
    body = {"primary": backend, "reason": reason}
    route = request("routing", "PUT", "/routes/default", json=body)
    emit(route if as_json else _route_row(route), as_json=as_json, columns=ROUTE_COLUMNS)


def route_set(charger: str, primary: str, reason: str, as_json: bool) -> None:
    path = f"/routes/chargers/{quote(charger, safe='')}"
    route = request("routing", "PUT", path, json={"primary": primary, "reason": reason})
    emit(route if as_json else _route_row(route), as_json=as_json, columns=ROUTE_COLUMNS)


def route_list(as_json: bool) -> None:
    table = request("routing", "GET", "/routes")
    if as_json:
        emit(table, as_json=True)
        return
    routes = ([table["default"]] if table.get("default") else []) + table.get("chargers", [])
    print(f"routing table version {table.get('version', 0)}")
    emit([_route_row(r) for r in routes], as_json=False, columns=ROUTE_COLUMNS, empty="no routes")


def trace(charger_path: str, limit: int, since: str | None, as_json: bool) -> None:
    params: dict[str, str | int] = {"limit": limit}
    if since:
        params["since"] = since
    frames = request("journal", "GET", f"/chargers/{charger_path}/frames", params=params)
    if as_json:
        emit(frames, as_json=True)
        return
    if not frames:
        print("no frames for this charger in the journal")
        return
    # Answers carry no action on the wire; name them after the CALL they answer.
    actions = {f["message_id"]: f["action"] for f in frames if f.get("action")}
    rows = [
        {
            "time": str(f["ts"])[11:23],
            "hop": ARROWS.get(f["direction"], f["direction"]),
            "backend": f.get("backend"),
            "action": f.get("action") or _answer_label(f, actions),
            "message id": f.get("message_id"),
            "frame": _short(f["raw"]),
        }
        for f in frames
    ]
    print_table(rows, list(rows[0].keys()))


def _answer_label(frame: dict[str, Any], actions: dict[str, str]) -> str | None:
    kind = {3: "result", 4: "error", 5: "error"}.get(frame.get("message_type") or 0)
    action = actions.get(frame.get("message_id") or "")
    if kind is None:
        return None
    return f"{action} {kind}" if action else kind


def _short(raw: str, width: int = 90) -> str:
    return raw if len(raw) <= width else raw[: width - 3] + "..."
