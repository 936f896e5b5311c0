"""`--reason` for every change: asked for at a terminal when missing, optional in scripts."""

from __future__ import annotations

import argparse
import sys

HELP = "why (kept with the routing-table version; asked for at a terminal if omitted)"


def add_reason(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reason", default=None, help=HELP)


def reason(args: argparse.Namespace) -> str:
    given: str | None = getattr(args, "reason", None)
    if given is not None:
        return given
    if sys.stdin.isatty():
        try:
            return input("reason for this change: ").strip()
        except EOFError:
            return ""
    return ""
