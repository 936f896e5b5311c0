"""`switchyard backend add|list`: the CSMS backends chargers can be routed to."""

from __future__ import annotations

import argparse

from sy_cli.groups.types import Commands
from sy_cli.http import request
from sy_cli.output import emit

COLUMNS = ("name", "url", "ocpp_versions")


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser("backend", help="CSMS backends chargers can be routed to")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", parents=[common], help="register a backend")
    add.add_argument("name", help="short name, e.g. legacy or new-csms")
    add.add_argument("--url", required=True, help="OCPP-J endpoint; the charger id is appended")
    add.add_argument(
        "--ocpp",
        action="append",
        choices=["1.6", "2.0.1"],
        help="OCPP version(s) the backend accepts (repeat for both; default both)",
    )
    add.add_argument("--reason", default="", help="why (kept with the routing-table version)")
    add.set_defaults(handler=add_backend)
    listing = actions.add_parser("list", parents=[common], help="list backends")
    listing.set_defaults(handler=list_backends)


def add_backend(args: argparse.Namespace) -> None:
    versions = [f"ocpp{v}" for v in (args.ocpp or ["1.6", "2.0.1"])]
    body = {"name": args.name, "url": args.url, "ocpp_versions": versions, "reason": args.reason}
    emit(request("routing", "POST", "/backends", json=body), as_json=args.json, columns=COLUMNS)


def list_backends(args: argparse.Namespace) -> None:
    backends = request("routing", "GET", "/backends")
    emit(backends, as_json=args.json, columns=COLUMNS, empty="no backends")
