"""`switchyard reconcile --backend NAME --since ...`: sessions a backend did not acknowledge."""

from __future__ import annotations

import argparse

from sy_cli.groups.types import Commands
from sy_cli.http import request
from sy_cli.output import emit, print_table


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    rec = commands.add_parser(
        "reconcile",
        parents=[common],
        help="sessions the gateway saw versus the sessions one backend acknowledged",
    )
    rec.add_argument("--backend", required=True, help="backend name")
    rec.add_argument("--since", required=True, help="ISO 8601 time with timezone")
    rec.add_argument("--until", help="ISO 8601 time with timezone (default: now)")
    rec.add_argument("--charger", help="only this charger")
    rec.add_argument(
        "--include-not-sent", action="store_true", help="also list sessions it never received"
    )
    rec.set_defaults(handler=run_reconcile)


def run_reconcile(args: argparse.Namespace) -> int:
    params: dict[str, str] = {"backend": args.backend, "since": args.since}
    if args.until:
        params["until"] = args.until
    if args.charger:
        params["charger_id"] = args.charger
    if args.include_not_sent:
        params["include_not_sent"] = "true"
    report = request("journal", "GET", "/reconciliation", params=params)
    if args.json:
        emit(report, as_json=True)
    else:
        print(
            f"backend {report['backend']}: {report['sessions_seen']} sessions seen, "
            f"{report['sent_to_backend']} sent to it, {report['acknowledged']} acknowledged, "
            f"{report['not_sent']} never sent"
        )
        rows = [
            {
                "session": d["gateway_transaction_id"],
                "charger": d["charger_id"],
                "started": d["started_at"],
                "charger tx": d["charger_transaction_id"],
                "backend tx": d["backend_transaction_id"],
                "problems": d["problems"],
            }
            for d in report["differences"]
        ]
        if rows:
            print_table(rows, list(rows[0]))
        if report["truncated"]:
            print("(more differences exist; narrow the time range)")
    # Non-zero when there is something to look at, so scripts and CI can gate on it.
    return 1 if report["differences"] else 0
