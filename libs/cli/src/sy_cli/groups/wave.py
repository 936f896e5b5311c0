"""`switchyard wave ...`: migration waves, the same MigrationWave YAML as `kubectl apply -f`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sy_cli.groups.types import Commands
from sy_cli.http import CliError, request
from sy_cli.output import emit, print_table


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    wave = commands.add_parser(
        "wave", parents=[common], help="migration waves: apply, follow, start, roll back, sign off"
    )
    sub = wave.add_subparsers(dest="wave_command", required=True, metavar="ACTION")
    apply = sub.add_parser("apply", parents=[common], help="create or update waves from YAML")
    apply.add_argument("-f", "--file", required=True, help="MigrationWave YAML ('-': stdin)")
    apply.set_defaults(handler=run_apply)
    status = sub.add_parser("status", parents=[common], help="every wave, or one in detail")
    status.add_argument("name", nargs="?", help="a wave's name")
    status.add_argument("--plan", help="only this plan's waves")
    status.set_defaults(handler=run_status)
    for action, helps in (
        ("start", "cut a Ready wave over"),
        ("rollback", "route a wave's chargers back now"),
        ("retry", "take a RolledBack wave back to Draft; pre-flight makes it Ready again"),
    ):
        command = sub.add_parser(action, parents=[common], help=helps)
        command.add_argument("name", help="the wave's name")
        command.add_argument(
            "--reason",
            required=action in ("rollback", "retry"),
            default="",
            help="why (recorded with the transition)",
        )
        command.set_defaults(handler=run_command, action=action)
    signoff = sub.add_parser("signoff", parents=[common], help="sign a Passed wave off (owner)")
    signoff.add_argument("name", help="the wave's name")
    signoff.add_argument("--note", required=True, help="the sign-off note")
    signoff.set_defaults(handler=run_signoff)


def run_apply(args: argparse.Namespace) -> int:
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}") from None
    applied = request(
        "migration",
        "POST",
        "/waves/apply",
        content=text.encode(),
        headers={"Content-Type": "application/yaml"},
    )
    if args.json:
        emit(applied, as_json=True)
    else:
        for item in applied:
            print(f"migrationwave/{item['name']} {item['result']} ({item['phase']})")
    return 0


def _row(wave: dict[str, Any]) -> dict[str, Any]:
    status = wave["status"]
    return {
        "name": wave["metadata"]["name"],
        "plan": wave["metadata"]["labels"].get("switchyard.io/plan"),
        "phase": status["phase"],
        "chargers": status["chargers"]["total"],
        "progress": status["progress"],
        "health": status["health"],
        "target": wave["spec"]["targetBackend"],
        "message": (status.get("message") or "")[:70],
    }


def show(wave: dict[str, Any]) -> None:
    spec, status = wave["spec"], wave["status"]
    print(
        f"wave {wave['metadata']['name']}: {status['phase']}, {status['progress']}, "
        f"health {status['health']}"
    )
    print(
        f"  {spec['rollbackTarget']} -> {spec['targetBackend']}; window "
        f"{spec.get('observationWindow')}; sign-off owner {spec.get('signOffOwner') or '-'}"
    )
    print(f"  {status.get('message', '')}")
    if status.get("waiting"):
        print(f"  waiting for transactions to end: {', '.join(status['waiting'])}")
    checks = [
        {"check": c["name"], "ok": c["ok"], "detail": c["message"][:90]}
        for c in status.get("preflight", [])
    ]
    if checks:
        print("\npre-flight")
        print_table(checks, ["check", "ok", "detail"])
    gates = [
        {
            "gate": g["name"],
            "state": g["state"],
            "value": g["value"],
            "threshold": g["threshold"],
            "samples": g["samples"],
        }
        for g in status.get("gates", [])
    ]
    if gates:
        print("\ngates")
        print_table(gates, ["gate", "state", "value", "threshold", "samples"])
    rows = [
        {
            "at": t["at"],
            "from": t["from"],
            "to": t["to"],
            "by": t["actor"],
            "why": (t["reason"] or "")[:80],
        }
        for t in wave.get("transitions", [])
    ]
    if rows:
        print("\ntransitions")
        print_table(rows, ["at", "from", "to", "by", "why"])


def run_status(args: argparse.Namespace) -> int:
    if args.name:
        wave = request("migration", "GET", f"/waves/{args.name}")
        if args.json:
            emit(wave, as_json=True)
        else:
            show(wave)
        return 0
    params = {"plan": args.plan} if args.plan else {}
    waves = request("migration", "GET", "/waves", params=params)
    if args.json:
        emit(waves, as_json=True)
    else:
        emit(
            [_row(w) for w in waves], as_json=False, empty="no waves yet: switchyard wave apply -f"
        )
    return 0


def run_command(args: argparse.Namespace) -> int:
    wave = request(
        "migration", "POST", f"/waves/{args.name}/{args.action}", json={"reason": args.reason}
    )
    if args.json:
        emit(wave, as_json=True)
    else:
        print(f"wave {args.name}: {wave['status']['phase']} — {wave['status'].get('message', '')}")
    return 0


def run_signoff(args: argparse.Namespace) -> int:
    wave = request("migration", "POST", f"/waves/{args.name}/signoff", json={"note": args.note})
    if args.json:
        emit(wave, as_json=True)
    else:
        print(f"wave {args.name}: signed off by {wave['status'].get('signedOffBy')}")
    return 0
