"""`switchyard`: run the suite locally and drive its REST APIs from a shell.

Every command prints a table for people or JSON with --json, and exits non-zero with one
sentence on stderr when something is wrong.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from sy_cli.groups import GROUPS
from sy_cli.http import CliError


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
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        status = args.handler(args)
    except CliError as exc:
        print(f"switchyard: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return int(status or 0)


def console() -> None:
    """The `switchyard` command. Only here (not in `main`, which tests call in-process) does it
    behave like other shell tools when piped into `head`: stop quietly on a closed pipe."""
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())


if __name__ == "__main__":
    console()
