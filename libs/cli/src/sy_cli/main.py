"""`switchyard`: run the suite locally and drive its REST APIs from a shell.

Every command prints a table for people or JSON with --json, and exits non-zero with one
sentence on stderr when something is wrong.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from urllib.parse import quote

from sy_cli import commands
from sy_cli.http import CliError
from sy_cli.run import DEFAULT_OCPP_PORT, run_suite


def _parser() -> argparse.ArgumentParser:
    # --json is accepted before or after the command (`switchyard backend list --json`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON, not tables"
    )
    parser = argparse.ArgumentParser(
        prog="switchyard",
        description="Switchyard OCPP gateway: run it locally, register backends, route chargers, "
        "read the journal.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the whole suite on this machine (what `make run` does)")
    run.add_argument("--port-base", type=int, default=8700, help="APIs listen on N+1..N+5")
    run.add_argument("--ocpp-port", type=int, default=DEFAULT_OCPP_PORT, help="charger port")

    backend = sub.add_parser("backend", help="CSMS backends chargers can be routed to")
    bsub = backend.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = bsub.add_parser("add", parents=[common], help="register a backend")
    add.add_argument("name", help="short name, e.g. legacy or new-csms")
    add.add_argument("--url", required=True, help="OCPP-J endpoint; the charger id is appended")
    add.add_argument(
        "--ocpp",
        action="append",
        choices=["1.6", "2.0.1"],
        help="OCPP version(s) the backend accepts (repeat for both; default both)",
    )
    add.add_argument("--reason", default="", help="why (kept with the routing-table version)")
    bsub.add_parser("list", parents=[common], help="list backends")

    route = sub.add_parser("route", help="which backend each charger talks to")
    rsub = route.add_subparsers(dest="action", required=True, metavar="ACTION")
    default = rsub.add_parser(
        "default", parents=[common], help="set the backend of every charger without a route"
    )
    default.add_argument("backend", help="backend name")
    default.add_argument("--reason", default="", help="why (kept with the routing-table version)")
    set_ = rsub.add_parser("set", parents=[common], help="set one charger's primary backend")
    set_.add_argument("charger", help="charger id")
    set_.add_argument("--primary", required=True, help="backend name")
    set_.add_argument("--reason", default="", help="why (kept with the routing-table version)")
    rsub.add_parser("list", parents=[common], help="show the default route and every charger route")

    trace = sub.add_parser(
        "trace", parents=[common], help="a charger's frames from the journal, in order"
    )
    trace.add_argument("charger", help="charger id")
    trace.add_argument("--limit", type=int, default=200, help="most frames to show (default 200)")
    trace.add_argument("--since", help="ISO 8601 time with timezone, e.g. 2026-11-21T08:00:00Z")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Behave like other shell tools when piped into `head`: stop quietly.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return run_suite(args.port_base, args.ocpp_port)
        if args.command == "backend" and args.action == "add":
            versions = [f"ocpp{v}" for v in (args.ocpp or ["1.6", "2.0.1"])]
            commands.backend_add(args.name, args.url, versions, args.reason, args.json)
        elif args.command == "backend":
            commands.backend_list(args.json)
        elif args.command == "route" and args.action == "default":
            commands.route_default(args.backend, args.reason, args.json)
        elif args.command == "route" and args.action == "set":
            commands.route_set(args.charger, args.primary, args.reason, args.json)
        elif args.command == "route":
            commands.route_list(args.json)
        elif args.command == "trace":
            commands.trace(quote(args.charger, safe=""), args.limit, args.since, args.json)
    except CliError as exc:
        print(f"switchyard: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
