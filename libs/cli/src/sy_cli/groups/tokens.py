"""`switchyard token create|list|revoke` and `switchyard audit`: who may do what, and who did."""

from __future__ import annotations

import argparse
import sys
from urllib.parse import quote

from sy_cli.groups.types import Commands
from sy_cli.http import request
from sy_cli.output import emit

COLUMNS = ("name", "token_id", "roles", "expires_at", "revoked_at", "created_by")
SERVICES = ("routing", "edge", "connectors", "journal", "migration")


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser("token", help="admin API tokens (admin role)")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", parents=[common], help="create a token; shown once")
    create.add_argument("name", help="who or what uses it, e.g. ci-pipeline")
    create.add_argument(
        "--role",
        action="append",
        choices=["viewer", "operator", "admin"],
        required=True,
        help="role(s) the token carries (repeat for several)",
    )
    create.add_argument("--expires-days", type=int, default=90, help="days until it expires")
    create.add_argument("--reason", default="", help="why (audited)")
    create.set_defaults(handler=create_token)
    listing = actions.add_parser("list", parents=[common], help="list tokens (never secrets)")
    listing.set_defaults(handler=list_tokens)
    revoke = actions.add_parser("revoke", parents=[common], help="revoke a token everywhere")
    revoke.add_argument("name")
    revoke.add_argument("--reason", default="", help="why (audited)")
    revoke.set_defaults(handler=revoke_token)

    audit = commands.add_parser("audit", parents=[common], help="who changed what, when, why")
    audit.add_argument("--service", choices=SERVICES, default="routing")
    audit.add_argument("--since", help="ISO 8601 time with timezone (default: 7 days ago)")
    audit.add_argument("--actor", help="only calls by this token name or subject")
    audit.add_argument("--limit", type=int, default=100)
    audit.set_defaults(handler=show_audit)


def create_token(args: argparse.Namespace) -> None:
    body = {
        "name": args.name,
        "roles": args.role,
        "expires_in_days": args.expires_days,
        "reason": args.reason,
    }
    created = request("routing", "POST", "/tokens", json=body)
    if args.json:
        emit(created, as_json=True)
        return
    print(created["token"])
    print(
        f"token '{created['name']}' ({', '.join(created['roles'])}) expires "
        f"{created['expires_at'] or 'never'}; it is not shown again",
        file=sys.stderr,
    )


def list_tokens(args: argparse.Namespace) -> None:
    emit(request("routing", "GET", "/tokens"), as_json=args.json, columns=COLUMNS, empty="none")


def revoke_token(args: argparse.Namespace) -> None:
    path = f"/tokens/{quote(args.name, safe='')}"
    emit(request("routing", "DELETE", path, params={"reason": args.reason}), as_json=args.json,
         columns=COLUMNS)  # fmt: skip


def show_audit(args: argparse.Namespace) -> None:
    params: dict[str, str | int] = {"limit": args.limit}
    if args.since:
        params["since"] = args.since
    if args.actor:
        params["actor"] = args.actor
    entries = request(args.service, "GET", "/audit", params=params)
    columns = ("ts", "actor", "method", "resource", "action", "status", "reason")
    emit(entries, as_json=args.json, columns=columns, empty="no audited calls in that window")
