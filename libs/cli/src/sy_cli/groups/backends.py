"""`switchyard backend add|update|list|show|remove`: the CSMS backends chargers can be routed to.

Credentials are references the connectors resolve (`env:NAME`, `file:/path`), never secrets.
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import quote

from sy_cli.groups.reason import add_reason, reason
from sy_cli.groups.types import Commands
from sy_cli.http import CliError, request
from sy_cli.output import emit

COLUMNS = ("name", "url", "ocpp_versions", "auth", "connect_rate", "call_timeout")


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser("backend", help="CSMS backends chargers can be routed to")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", parents=[common], help="register a backend")
    add.add_argument("name", help="short name, e.g. legacy or new-csms")
    _definition_options(add, required=True)
    add.set_defaults(handler=add_backend)
    update = actions.add_parser(
        "update", parents=[common], help="change a backend (options not given stay as they are)"
    )
    update.add_argument("name")
    _definition_options(update, required=False)
    update.add_argument("--no-auth", action="store_true", help="remove its credentials")
    update.set_defaults(handler=update_backend)
    listing = actions.add_parser("list", parents=[common], help="list backends")
    listing.set_defaults(handler=list_backends)
    show = actions.add_parser("show", parents=[common], help="show one backend")
    show.add_argument("name")
    show.set_defaults(handler=show_backend)
    remove = actions.add_parser("remove", parents=[common], help="remove a backend no route uses")
    remove.add_argument("name")
    add_reason(remove)
    remove.set_defaults(handler=remove_backend)


def _definition_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--url", required=required, help="OCPP-J endpoint; the charger id is appended"
    )
    parser.add_argument(
        "--ocpp",
        action="append",
        choices=["1.6", "2.0.1"],
        help="OCPP version(s) the backend accepts (repeat for both; default both)",
    )
    parser.add_argument(
        "--url-for",
        action="append",
        default=[],
        metavar="VERSION=URL",
        help="a different URL for one OCPP version, e.g. 2.0.1=wss://csms/ocpp201",
    )
    parser.add_argument("--basic-user", help="HTTP Basic auth username")
    parser.add_argument("--password-ref", help="Basic auth password: env:NAME or file:/path")
    parser.add_argument("--cert-ref", help="TLS client certificate: env:NAME or file:/path")
    parser.add_argument("--key-ref", help="its private key: env:NAME or file:/path")
    parser.add_argument("--ca-ref", help="CA bundle to verify the backend: env:NAME or file:/path")
    parser.add_argument("--connect-rate", type=float, help="new connections per second, at most")
    parser.add_argument("--call-timeout", type=float, help="seconds to wait for a CALL's answer")
    add_reason(parser)


def _versions(values: list[str] | None) -> list[str] | None:
    return [f"ocpp{v}" for v in values] if values else None


def _urls_by_version(pairs: list[str]) -> dict[str, str]:
    urls = {}
    for pair in pairs:
        version, sep, url = pair.partition("=")
        if not sep or not url:
            raise CliError(
                f"--url-for takes VERSION=URL, e.g. 2.0.1=wss://csms/ocpp201; got {pair!r}"
            )
        urls[version if version.startswith("ocpp") else f"ocpp{version}"] = url
    return urls


def _auth(args: argparse.Namespace, current: dict[str, Any] | None) -> dict[str, Any]:
    basic = args.basic_user or args.password_ref
    mtls = args.cert_ref or args.key_ref
    if basic and mtls:
        raise CliError("use Basic auth (--basic-user/--password-ref) or a client certificate"
                       " (--cert-ref/--key-ref), not both")  # fmt: skip
    auth = dict(current or {"kind": "none"})
    if basic:
        auth = {"kind": "basic", "username": args.basic_user or auth.get("username"),
                "password_ref": args.password_ref or auth.get("password_ref")}  # fmt: skip
    elif mtls:
        auth = {"kind": "mtls", "cert_ref": args.cert_ref or auth.get("cert_ref"),
                "key_ref": args.key_ref or auth.get("key_ref")}  # fmt: skip
    else:
        auth = {k: v for k, v in auth.items() if k != "ca_ref"}
    ca_ref = args.ca_ref or (current or {}).get("ca_ref")
    if ca_ref:
        auth["ca_ref"] = ca_ref
    return {k: v for k, v in auth.items() if v is not None}


def _row(backend: dict[str, Any]) -> dict[str, Any]:
    auth = backend.get("auth") or {}
    kind = auth.get("kind", "none")
    detail = (
        auth.get("username") if kind == "basic" else auth.get("cert_ref") if kind == "mtls" else ""
    )
    return {
        "name": backend["name"],
        "url": "; ".join([backend["url"], *(f"{v}={u}" for v, u in
                                             (backend.get("url_by_version") or {}).items())]),
        "ocpp_versions": backend["ocpp_versions"],
        "auth": f"{kind} {detail}".strip() if kind != "none" else "-",
        "connect_rate": backend.get("connect_rate_per_s"),
        "call_timeout": backend.get("call_timeout_s"),
    }  # fmt: skip


def _emit(data: Any, args: argparse.Namespace, empty: str = "") -> None:
    rows = data if args.json else [_row(b) for b in data] if isinstance(data, list) else _row(data)
    emit(rows, as_json=args.json, columns=COLUMNS, empty=empty)


def add_backend(args: argparse.Namespace) -> None:
    body = {
        "name": args.name,
        "url": args.url,
        "ocpp_versions": _versions(args.ocpp) or ["ocpp1.6", "ocpp2.0.1"],
        "url_by_version": _urls_by_version(args.url_for),
        "auth": _auth(args, None),
        "connect_rate_per_s": args.connect_rate,
        "call_timeout_s": args.call_timeout,
        "reason": reason(args),
    }
    _emit(request("routing", "POST", "/backends", json=body), args)


def update_backend(args: argparse.Namespace) -> None:
    path = f"/backends/{quote(args.name, safe='')}"
    current = request("routing", "GET", path)
    urls = {**current.get("url_by_version", {}), **_urls_by_version(args.url_for)}
    body = {
        "url": args.url or current["url"],
        "ocpp_versions": _versions(args.ocpp) or current["ocpp_versions"],
        "url_by_version": urls,
        "auth": {"kind": "none"} if args.no_auth else _auth(args, current.get("auth")),
        "connect_rate_per_s": args.connect_rate or current.get("connect_rate_per_s"),
        "call_timeout_s": args.call_timeout or current.get("call_timeout_s"),
        "reason": reason(args),
    }
    _emit(request("routing", "PUT", path, json=body), args)


def list_backends(args: argparse.Namespace) -> None:
    _emit(request("routing", "GET", "/backends"), args, empty="no backends")


def show_backend(args: argparse.Namespace) -> None:
    _emit(request("routing", "GET", f"/backends/{quote(args.name, safe='')}"), args)


def remove_backend(args: argparse.Namespace) -> None:
    path = f"/backends/{quote(args.name, safe='')}"
    request("routing", "DELETE", path, params={"reason": reason(args)})
    if not args.json:
        print(f"backend {args.name} removed")
