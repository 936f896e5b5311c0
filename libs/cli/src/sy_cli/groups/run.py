"""`switchyard run`: the whole suite on this machine (what `make run` does)."""

from __future__ import annotations

import argparse

from sy_cli.groups.types import Commands
from sy_devkit.layout import DEFAULT_OCPP_PORT


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    run = commands.add_parser("run", help="run the whole suite on this machine (`make run`)")
    run.add_argument("--port-base", type=int, default=8700, help="APIs listen on N+1..N+5")
    run.add_argument("--ocpp-port", type=int, default=DEFAULT_OCPP_PORT, help="charger port")
    run.add_argument(
        "--connectors",
        type=_replicas,
        default=1,
        metavar="N",
        help="connectors replicas sharing the chargers by shard (extra ones on N+11, N+12, ...)",
    )
    run.set_defaults(handler=_run)


def _replicas(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= 8:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of replicas from 1 to 8")
    return count


def _run(args: argparse.Namespace) -> int:
    # Imported here: the suite launcher pulls in the whole platform, which other commands skip.
    from sy_cli.groups.run_suite import run_suite

    return run_suite(args.port_base, args.ocpp_port, args.connectors)
