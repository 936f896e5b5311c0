"""The API commands: one function per CLI action."""

from __future__ import annotations

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


def route_default(backend: str, reason: str, as_json: bool) -> None:
    route = request(
        "routing", "PUT", "/routes/default", json={"primary": backend, "reason": reason}
    )
    emit(route, as_json=as_json)


def route_set(charger: str, primary: str, reason: str, as_json: bool) -> None:
    path = f"/routes/chargers/{quote(charger, safe='')}"
    route = request("routing", "PUT", path, json={"primary": primary, "reason": reason})
    emit(route, as_json=as_json)


def route_list(as_json: bool) -> None:
    routes = request("routing", "GET", "/routes")
    emit(routes, as_json=as_json)


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
    rows = [
        {
            "time": str(f["ts"])[11:23],
            "hop": ARROWS.get(f["direction"], f["direction"]),
            "backend": f.get("backend"),
            "action": f.get("action"),
            "message id": f.get("message_id"),
            "frame": _short(f["raw"]),
        }
        for f in frames
    ]
    print_table(rows, list(rows[0].keys()))


def _short(raw: str, width: int = 90) -> str:
    return raw if len(raw) <= width else raw[: width - 3] + "..."
