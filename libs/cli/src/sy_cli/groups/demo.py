"""`switchyard demo`: watch a pilot and a wave migrate a simulated fleet (what `make demo` runs)."""

from __future__ import annotations

import argparse

from sy_cli.groups.types import Commands


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    demo = commands.add_parser("demo", help="watch a pilot and a wave migrate a simulated fleet")
    demo.add_argument("--chargers", type=int, default=30, help="fleet size (default 30)")
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    # Imported here: the demo starts the whole suite, which other commands do not need.
    from sy_cli.groups.demo_run import run_demo

    return run_demo(args.chargers)
