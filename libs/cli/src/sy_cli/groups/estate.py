"""`switchyard estate`: the fleet by vendor, model, firmware, site, criticality and backend."""

from __future__ import annotations

import argparse

from sy_cli.groups.types import Commands
from sy_cli.http import request
from sy_cli.output import emit, print_table


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    estate = commands.add_parser(
        "estate", parents=[common], help="the estate map: what the fleet is, where it is routed"
    )
    estate.add_argument("--window", default="168h", help="behaviour judged over, e.g. 24h")
    estate.set_defaults(handler=run_estate)


def run_estate(args: argparse.Namespace) -> int:
    found = request("migration", "GET", "/estate", params={"window": args.window})
    if args.json:
        emit(found, as_json=True)
        return 0
    print(f"{found['chargers']} chargers")
    for dimension, counts in found["counts"].items():
        parts = ", ".join(f"{k} {v}" for k, v in counts.items())
        print(f"  by {dimension:<11} {parts}")
    if found["segments"]:
        print("\nsegments")
        print_table(found["segments"], ["vendor", "model", "firmware", "backend", "chargers"])
    if found["inconsistent"]:
        print("\nbehaving inconsistently")
        rows = [{**c, "reasons": "; ".join(c["reasons"])} for c in found["inconsistent"]]
        print_table(rows, ["charger_id", "vendor", "model", "firmware", "backend", "reasons"])
    for note in found.get("notes", []):
        print(f"note: {note}")
    return 0
