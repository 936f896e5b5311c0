"""`switchyard charger add|rotate|revoke|list|attempts`: charger credentials on the edge.

A password is printed once, by add and rotate, and never again (the edge keeps only a hash).
"""

from __future__ import annotations

import argparse
from urllib.parse import quote

from sy_cli.groups.types import Commands
from sy_cli.http import request
from sy_cli.output import emit

COLUMNS = ("charger_id", "security_profile", "has_password", "version", "updated_at", "revoked_at")


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser("charger", help="charger credentials (security profiles 1-3)")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", parents=[common], help="give a charger credentials")
    add.add_argument("charger", help="charger id (the Basic-auth username, the certificate CN)")
    add.add_argument("--password", help="16-40 characters; a strong one is generated if omitted")
    add.add_argument(
        "--profile",
        type=int,
        choices=[1, 2, 3],
        default=1,
        help="1: Basic over ws, 2: TLS + Basic, 3: TLS client certificate (default 1)",
    )
    add.set_defaults(handler=add_charger)
    rotate = actions.add_parser("rotate", parents=[common], help="new password (printed once)")
    rotate.add_argument("charger")
    rotate.add_argument("--password", help="the new password; generated if omitted")
    rotate.set_defaults(handler=rotate_charger)
    revoke = actions.add_parser("revoke", parents=[common], help="revoke and disconnect")
    revoke.add_argument("charger")
    revoke.set_defaults(handler=revoke_charger)
    listing = actions.add_parser("list", parents=[common], help="chargers with credentials")
    listing.set_defaults(handler=list_chargers)
    attempts = actions.add_parser("attempts", parents=[common], help="refused handshakes")
    attempts.add_argument("charger", nargs="?", help="only this charger")
    attempts.set_defaults(handler=list_attempts)


def _show_issued(issued: dict[str, object], as_json: bool) -> None:
    if as_json:
        emit(issued, as_json=True)
        return
    emit(issued, as_json=False, columns=("charger_id", "security_profile", "version"))
    if issued.get("password"):
        print(f"\npassword: {issued['password']}")
        print("Set it as the charger's AuthorizationKey now: it is not shown again.")


def add_charger(args: argparse.Namespace) -> None:
    body: dict[str, object] = {"charger_id": args.charger, "security_profile": args.profile}
    if args.password:
        body["password"] = args.password
    _show_issued(request("edge", "POST", "/credentials", json=body), args.json)


def rotate_charger(args: argparse.Namespace) -> None:
    body = {"password": args.password} if args.password else None
    path = f"/credentials/{quote(args.charger, safe='')}/rotate"
    _show_issued(request("edge", "POST", path, json=body), args.json)


def revoke_charger(args: argparse.Namespace) -> None:
    request("edge", "DELETE", f"/credentials/{quote(args.charger, safe='')}")
    print(f"revoked {args.charger}; it is disconnected and refused from now on")


def list_chargers(args: argparse.Namespace) -> None:
    rows = request("edge", "GET", "/credentials")
    emit(rows, as_json=args.json, columns=COLUMNS, empty="no charger has credentials")


def list_attempts(args: argparse.Namespace) -> None:
    params = {"charger_id": args.charger} if args.charger else {}
    rows = request("edge", "GET", "/credentials/attempts", params=params)
    emit(
        rows,
        as_json=args.json,
        columns=("at", "charger_id", "reason", "remote", "detail"),
        empty="no refused handshakes",
    )
