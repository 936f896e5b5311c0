"""`switchyard fleet ...` and `switchyard group ...`: chargers, their attributes, and groups.

Vendor, model and firmware are learned from each charger's BootNotification; site, criticality
and tags are set here. Groups select chargers by attributes (`--where vendor=Acme`) or list them.
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import quote

from sy_cli.groups.reason import add_reason, reason
from sy_cli.groups.types import Commands
from sy_cli.http import CliError, request
from sy_cli.output import emit

COLUMNS = ("charger_id", "vendor", "model", "firmware", "site", "criticality", "tags", "groups",
           "route")  # fmt: skip
GROUP_COLUMNS = ("name", "selects", "member_count", "primary", "shadows", "priority")
ATTRIBUTES = ("vendor", "model", "firmware", "ocpp", "site", "criticality")


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    fleet = commands.add_parser("fleet", help="chargers and their attributes")
    actions = fleet.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[common], help="list chargers (globs allowed)")
    for name in ATTRIBUTES:
        listing.add_argument(f"--{name}", action="append", default=[], help=f"{name} (glob)")
    listing.add_argument("--tag", action="append", default=[], help="carries this tag")
    listing.add_argument("--group", help="members of this group")
    listing.set_defaults(handler=list_chargers)
    show = actions.add_parser("show", parents=[common], help="one charger, its groups and route")
    show.add_argument("charger")
    show.set_defaults(handler=show_charger)
    for verb, helptext in (("add", "register a charger before its first boot"),
                           ("tag", "set site, criticality and tags")):  # fmt: skip
        parser = actions.add_parser(verb, parents=[common], help=helptext)
        parser.add_argument("charger")
        parser.add_argument(
            "settings", nargs="*", metavar="KEY=VALUE",
            help="site=Berlin criticality=high tags=a,b (replace) tags+=pilot tags-=old;"
            " an empty value (site=) clears it",
        )  # fmt: skip
        add_reason(parser)
        parser.set_defaults(handler=add_charger if verb == "add" else tag_charger)
    forget = actions.add_parser("forget", parents=[common], help="forget a charger's attributes")
    forget.add_argument("charger")
    add_reason(forget)
    forget.set_defaults(handler=forget_charger)

    group = commands.add_parser("group", help="groups of chargers, by attributes or by list")
    verbs = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    for verb in ("create", "update"):
        parser = verbs.add_parser(verb, parents=[common], help=f"{verb} a group")
        parser.add_argument("name")
        parser.add_argument(
            "--where", action="append", default=[], metavar="ATTR=GLOB[,GLOB]",
            help="vendor, model, firmware, ocpp, site, criticality (any glob matches) or tag"
            " (all required); repeat for AND, e.g. --where vendor=Acme --where model=AC22*",
        )  # fmt: skip
        parser.add_argument("--chargers", help="or an explicit list: CP1,CP2,...")
        parser.add_argument("--description", default="")
        add_reason(parser)
        parser.set_defaults(handler=save_group, verb=verb)
    glist = verbs.add_parser("list", parents=[common], help="list groups")
    glist.set_defaults(handler=list_groups)
    gshow = verbs.add_parser("show", parents=[common], help="a group and its members")
    gshow.add_argument("name")
    gshow.set_defaults(handler=show_group)
    gremove = verbs.add_parser("remove", parents=[common], help="remove a group without route")
    gremove.add_argument("name")
    add_reason(gremove)
    gremove.set_defaults(handler=remove_group)


def _path(charger: str) -> str:
    return f"/chargers/{quote(charger, safe='')}"


def _row(charger: dict[str, Any]) -> dict[str, Any]:
    route = charger["route"]
    via = f"{route['source']}:{route['group']}" if route.get("group") else route["source"]
    return {**charger, "route": f"{route['primary'] or '-'} ({via})"}


def _emit_chargers(data: Any, args: argparse.Namespace, empty: str = "") -> None:
    rows = data if args.json else [_row(c) for c in data] if isinstance(data, list) else _row(data)
    emit(rows, as_json=args.json, columns=COLUMNS, empty=empty)


def _settings(pairs: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise CliError(f"expected KEY=VALUE, e.g. site=Berlin; got {pair!r}")
        items = [v.strip() for v in value.split(",") if v.strip()]
        if key in ("site", "criticality", "vendor", "model", "firmware"):
            body[key] = value or None
        elif key == "tags":
            body["tags"] = items
        elif key == "tags+":
            body["add_tags"] = items
        elif key == "tags-":
            body["remove_tags"] = items
        else:
            raise CliError(f"unknown attribute {key!r}: use site, criticality, tags, tags+, tags-")
    return body


def list_chargers(args: argparse.Namespace) -> None:
    params: dict[str, Any] = {name: getattr(args, name) for name in ATTRIBUTES}
    params["tag"] = args.tag
    if args.group:
        params["group"] = args.group
    _emit_chargers(request("routing", "GET", "/chargers", params=params), args, "no chargers")


def show_charger(args: argparse.Namespace) -> None:
    _emit_chargers(request("routing", "GET", _path(args.charger)), args)


def add_charger(args: argparse.Namespace) -> None:
    body = {"charger_id": args.charger, **_settings(args.settings), "reason": reason(args)}
    if "add_tags" in body:
        body["tags"] = body.pop("add_tags")
    _emit_chargers(request("routing", "POST", "/chargers", json=body), args)


def tag_charger(args: argparse.Namespace) -> None:
    body = {**_settings(args.settings), "reason": reason(args)}
    _emit_chargers(request("routing", "PATCH", _path(args.charger), json=body), args)


def forget_charger(args: argparse.Namespace) -> None:
    request("routing", "DELETE", _path(args.charger), params={"reason": reason(args)})
    if not args.json:
        print(f"{args.charger} forgotten; its next boot teaches routing its attributes again")


def _selector(conditions: list[str]) -> dict[str, list[str]]:
    where: dict[str, list[str]] = {}
    for condition in conditions:
        key, sep, value = condition.partition("=")
        key = {"tag": "tags"}.get(key, key)
        if not sep or key not in (*ATTRIBUTES, "tags"):
            raise CliError(f"--where takes ATTR=GLOB with ATTR one of {', '.join(ATTRIBUTES)},"
                           f" tag; got {condition!r}")  # fmt: skip
        where.setdefault(key, []).extend(v.strip() for v in value.split(",") if v.strip())
    return where


def _group_row(group: dict[str, Any]) -> dict[str, Any]:
    route = group.get("route") or {}
    selects = (
        " ".join(f"{k}={','.join(v)}" for k, v in group["where"].items())
        if group.get("where") else f"{len(group.get('chargers') or [])} listed"
    )  # fmt: skip
    return {
        **group,
        "selects": selects,
        "primary": (route.get("primary") or {}).get("name"),
        "shadows": [s["name"] for s in route.get("shadows", [])],
        "priority": route.get("priority"),
    }


def save_group(args: argparse.Namespace) -> None:
    if bool(args.where) == bool(args.chargers):
        raise CliError("give --where ATTR=GLOB (repeatable) or --chargers CP1,CP2, not both")
    body: dict[str, Any] = {"description": args.description, "reason": reason(args)}
    if args.where:
        body["where"] = _selector(args.where)
    else:
        body["chargers"] = [c.strip() for c in args.chargers.split(",") if c.strip()]
    if args.verb == "create":
        group = request("routing", "POST", "/groups", json={"name": args.name, **body})
    else:
        group = request("routing", "PUT", f"/groups/{quote(args.name, safe='')}", json=body)
    _emit_group(group, args)


def _emit_group(group: dict[str, Any], args: argparse.Namespace) -> None:
    if args.json:
        emit(group, as_json=True)
        return
    emit(_group_row(group), as_json=False, columns=GROUP_COLUMNS)
    if group.get("members") is not None:
        print(f"members: {', '.join(group['members']) or '(none)'}")


def list_groups(args: argparse.Namespace) -> None:
    groups = request("routing", "GET", "/groups")
    rows = groups if args.json else [_group_row(g) for g in groups]
    emit(rows, as_json=args.json, columns=GROUP_COLUMNS, empty="no groups")


def show_group(args: argparse.Namespace) -> None:
    _emit_group(request("routing", "GET", f"/groups/{quote(args.name, safe='')}"), args)


def remove_group(args: argparse.Namespace) -> None:
    path = f"/groups/{quote(args.name, safe='')}"
    request("routing", "DELETE", path, params={"reason": reason(args)})
    if not args.json:
        print(f"group {args.name} removed")
