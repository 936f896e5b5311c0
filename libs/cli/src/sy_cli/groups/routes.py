"""`switchyard route ...`: which backends each charger talks to, and the table's versions.

Routes have one primary and any number of shadows; `--allow BACKEND=Action,Action` sets which
backend-initiated actions a backend may send on the route (`all`, or `none`; by default the
primary may send every action and shadows none).
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import quote

from sy_cli.groups.reason import add_reason, reason
from sy_cli.groups.types import Commands
from sy_cli.http import CliError, request
from sy_cli.output import emit

COLUMNS = ("charger", "source", "primary", "shadows", "url", "updated_at")
VERSION_COLUMNS = ("id", "created_at", "author", "op", "subject", "reason")


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser("route", help="which backends each charger talks to")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    default = actions.add_parser(
        "default", parents=[common], help="set the backends of every charger without a route"
    )
    default.add_argument("backend", help="primary backend name")
    _route_options(default)
    default.set_defaults(handler=set_default)
    one = actions.add_parser("set", parents=[common], help="set one charger's own route")
    one.add_argument("charger", help="charger id")
    one.add_argument("--primary", required=True, help="backend name")
    _route_options(one)
    one.set_defaults(handler=set_charger)
    unset = actions.add_parser(
        "unset", parents=[common], help="remove a charger's own route (it follows its group's)"
    )
    unset.add_argument("charger")
    add_reason(unset)
    unset.set_defaults(handler=unset_charger)
    grouped = actions.add_parser("group", parents=[common], help="route a group of chargers")
    grouped.add_argument("group", help="group name (see `switchyard group`)")
    grouped.add_argument("--primary", help="backend name")
    grouped.add_argument("--priority", type=int, help="order among group routes, lowest first")
    grouped.add_argument("--remove", action="store_true", help="remove the group's route")
    _route_options(grouped)
    grouped.set_defaults(handler=set_group)
    show = actions.add_parser("show", parents=[common], help="the route one charger follows")
    show.add_argument("charger")
    show.set_defaults(handler=show_charger)
    listing = actions.add_parser(
        "list", parents=[common], help="show the default, group and charger routes"
    )
    listing.set_defaults(handler=list_routes)
    versions = actions.add_parser("versions", parents=[common], help="routing-table versions")
    versions.add_argument("--limit", type=int, default=20)
    versions.set_defaults(handler=list_versions)
    restore = actions.add_parser(
        "restore", parents=[common], help="make the table what it was at VERSION (rollback)"
    )
    restore.add_argument("version", type=int)
    add_reason(restore)
    restore.set_defaults(handler=restore_version)


def _route_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--shadow", action="append", default=[], metavar="BACKEND",
        help="a backend that gets copies of charger CALLs (repeat for several)",
    )  # fmt: skip
    parser.add_argument(
        "--allow", action="append", default=[], metavar="BACKEND=ACTIONS",
        help="backend-initiated actions BACKEND may send, comma-separated, or all / none",
    )  # fmt: skip
    add_reason(parser)


def _acls(pairs: list[str], backends: list[str]) -> dict[str, list[str] | None]:
    acls: dict[str, list[str] | None] = {}
    for pair in pairs:
        backend, sep, actions = pair.partition("=")
        if not sep:
            raise CliError(f"--allow takes BACKEND=Action,Action (or all / none); got {pair!r}")
        if backend not in backends:
            raise CliError(f"--allow names {backend!r}, which is not on this route")
        words = [a.strip() for a in actions.split(",") if a.strip()]
        acls[backend] = None if words == ["all"] else [] if words in ([], ["none"]) else words
    return acls


def _body(args: argparse.Namespace, primary: str) -> dict[str, Any]:
    acls = _acls(args.allow, [primary, *args.shadow])
    body: dict[str, Any] = {"primary": primary, "reason": reason(args)}
    if primary in acls:
        body["commands"] = acls[primary]
    body["shadows"] = [
        {"backend": s, **({"commands": acls[s]} if s in acls else {})} for s in args.shadow
    ]
    return body


def _names(refs: list[dict[str, Any]]) -> list[str]:
    return [r["name"] for r in refs]


def _row(route: dict[str, Any]) -> dict[str, Any]:
    subject = route.get("charger_id") or (f"group {route['group']}" if route.get("group") else None)
    source = route["source"] + (
        f":{route['group']}" if route.get("charger_id") and route.get("group") else ""
    )
    return {
        "charger": subject or "(default)",
        "source": source if route.get("priority") is None else f"{source} #{route['priority']}",
        "primary": route["primary"]["name"],
        "shadows": _names(route.get("shadows", [])),
        "url": route["primary"]["url"],
        "updated_at": route.get("updated_at"),
    }  # fmt: skip


def _emit(route: Any, args: argparse.Namespace) -> None:
    emit(route if args.json else _row(route), as_json=args.json, columns=COLUMNS)


def set_default(args: argparse.Namespace) -> None:
    _emit(request("routing", "PUT", "/routes/default", json=_body(args, args.backend)), args)


def set_charger(args: argparse.Namespace) -> None:
    path = f"/routes/chargers/{quote(args.charger, safe='')}"
    _emit(request("routing", "PUT", path, json=_body(args, args.primary)), args)


def unset_charger(args: argparse.Namespace) -> None:
    path = f"/routes/chargers/{quote(args.charger, safe='')}"
    request("routing", "DELETE", path, params={"reason": reason(args)})
    if not args.json:
        print(f"{args.charger} has no route of its own any more")


def set_group(args: argparse.Namespace) -> None:
    path = f"/routes/groups/{quote(args.group, safe='')}"
    if args.remove:
        request("routing", "DELETE", path, params={"reason": reason(args)})
        if not args.json:
            print(f"group {args.group} has no route any more")
        return
    if not args.primary:
        raise CliError("give --primary BACKEND (or --remove)")
    body = _body(args, args.primary)
    if args.priority is not None:
        body["priority"] = args.priority
    _emit(request("routing", "PUT", path, json=body), args)


def show_charger(args: argparse.Namespace) -> None:
    _emit(request("routing", "GET", f"/routes/chargers/{quote(args.charger, safe='')}"), args)


def list_routes(args: argparse.Namespace) -> None:
    table = request("routing", "GET", "/routes")
    if args.json:
        emit(table, as_json=True)
        return
    routes = [
        *([table["default"]] if table.get("default") else []),
        *table.get("groups", []),
        *table.get("chargers", []),
    ]
    print(f"routing table version {table.get('version', 0)}")
    emit([_row(r) for r in routes], as_json=False, columns=COLUMNS, empty="no routes")


def list_versions(args: argparse.Namespace) -> None:
    versions = request("routing", "GET", "/versions", params={"limit": args.limit})
    if args.json:
        emit(versions, as_json=True)
        return
    rows = [
        {**v, "op": v["change"].get("op"),
         "subject": v["change"].get("charger_id") or v["change"].get("group")
         or v["change"].get("backend") or v["change"].get("restored")}
        for v in versions
    ]  # fmt: skip
    emit(rows, as_json=False, columns=VERSION_COLUMNS, empty="no versions yet")


def restore_version(args: argparse.Namespace) -> None:
    body = {"reason": reason(args)}
    out = request("routing", "POST", f"/versions/{args.version}/restore", json=body)
    if args.json:
        emit(out, as_json=True)
        return
    if not out["changed"]:
        print(f"the table already is as at version {args.version}; still version {out['version']}")
        return
    print(f"restored version {args.version} as version {out['version']};"
          f" {len(out['moved'])} charger route(s) changed")  # fmt: skip
    if out["backends_changed_since"]:
        print("note: these backends changed since and keep their current definition: "
              + ", ".join(out["backends_changed_since"]))  # fmt: skip
