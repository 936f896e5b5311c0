"""`switchyard route default|set|list`: which backend each charger talks to."""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import quote

from sy_cli.groups.types import Commands
from sy_cli.http import request
from sy_cli.output import emit

COLUMNS = ("charger", "primary", "url", "updated_at")


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser("route", help="which backend each charger talks to")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    default = actions.add_parser(
        "default", parents=[common], help="set the backend of every charger without a route"
    )
    default.add_argument("backend", help="backend name")
    default.add_argument("--reason", default="", help="why (kept with the routing-table version)")
    default.set_defaults(handler=set_default)
    one = actions.add_parser("set", parents=[common], help="set one charger's primary backend")
    one.add_argument("charger", help="charger id")
    one.add_argument("--primary", required=True, help="backend name")
    one.add_argument("--reason", default="", help="why (kept with the routing-table version)")
    one.set_defaults(handler=set_charger)
    listing = actions.add_parser(
        "list", parents=[common], help="show the default route and every charger route"
    )
    listing.set_defaults(handler=list_routes)


def _row(route: dict[str, Any]) -> dict[str, Any]:
    return {
        "charger": route.get("charger_id") or "(default)",
        "primary": route["primary"]["name"],
        "url": route["primary"]["url"],
        "updated_at": route.get("updated_at"),
    }


def set_default(args: argparse.Namespace) -> None:
    body = {"primary": args.backend, "reason": args.reason}
    route = request("routing", "PUT", "/routes/default", json=body)
    emit(route if args.json else _row(route), as_json=args.json, columns=COLUMNS)


def set_charger(args: argparse.Namespace) -> None:
    path = f"/routes/chargers/{quote(args.charger, safe='')}"
    route = request("routing", "PUT", path, json={"primary": args.primary, "reason": args.reason})
    emit(route if args.json else _row(route), as_json=args.json, columns=COLUMNS)


def list_routes(args: argparse.Namespace) -> None:
    table = request("routing", "GET", "/routes")
    if args.json:
        emit(table, as_json=True)
        return
    routes = ([table["default"]] if table.get("default") else []) + table.get("chargers", [])
    print(f"routing table version {table.get('version', 0)}")
    emit([_row(r) for r in routes], as_json=False, columns=COLUMNS, empty="no routes")
