"""`switchyard shards`: which connectors replica serves which chargers.

Chargers belong to one of 64 shards (by their id); each shard is leased by one connectors
replica. The map shows one cell per shard, lettered by replica, `.` for a shard nobody serves
(for a moment during a hand-over, or until a dead replica's lease expires).
"""

from __future__ import annotations

import argparse
import string
from typing import Any

from sy_cli.groups.types import Commands
from sy_cli.http import request
from sy_cli.output import emit, table_text

ROW = 16


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    shards = commands.add_parser(
        "shards", parents=[common], help="which connectors replica serves which charger shards"
    )
    shards.set_defaults(handler=show_shards)


def show_shards(args: argparse.Namespace) -> None:
    seen: dict[str, Any] = request("connectors", "GET", "/shards")
    if args.json:
        emit(seen, as_json=True)
        return
    print(picture(seen))


def picture(seen: dict[str, Any]) -> str:
    replicas = [r["instance"] for r in seen["replicas"]]
    letters = dict(zip(replicas, string.ascii_uppercase, strict=False))
    owners: list[str] = seen["owners"]
    lines = [f"{len(owners)} charger shards, seen from {seen['instance']}:"]
    for start in range(0, len(owners), ROW):
        cells = "".join(letters.get(o, "?") if o else "." for o in owners[start : start + ROW])
        lines.append(f"  {start:>3}-{min(start + ROW, len(owners)) - 1:<3} {cells}")
    lines.append("")
    rows = [
        {"map": letters[r["instance"]], "replica": r["instance"], "shards": r["shards"]}
        for r in seen["replicas"]
    ]
    lines.append(table_text(rows, ("map", "replica", "shards")))
    unowned = seen["unowned"]
    lines.append(
        f"\n{len(unowned)} shard(s) without a replica: {', '.join(map(str, unowned))}"
        if unowned
        else "\nevery shard has a replica"
    )
    return "\n".join(lines)
