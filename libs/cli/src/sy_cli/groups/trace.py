"""`switchyard trace CHARGER`: a charger's frames from the journal, every hop, in order."""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import quote

from sy_cli.groups.types import Commands
from sy_cli.http import request
from sy_cli.output import emit, print_table

ARROWS = {
    "from_charger": "charger  -> gateway",
    "to_backend": "gateway  -> backend",
    "from_backend": "backend  -> gateway",
    "to_charger": "gateway  -> charger",
}


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    trace = commands.add_parser(
        "trace", parents=[common], help="a charger's frames from the journal, in order"
    )
    trace.add_argument("charger", help="charger id")
    trace.add_argument("--limit", type=int, default=200, help="most frames to show (default 200)")
    trace.add_argument("--since", help="ISO 8601 time with timezone, e.g. 2026-11-21T08:00:00Z")
    trace.add_argument("--until", help="ISO 8601 time with timezone")
    trace.add_argument(
        "--conversation",
        action="store_true",
        help="group frames into exchanges with the gateway's latency on each hop",
    )
    trace.add_argument("--action", help="only this OCPP action (with --conversation)")
    trace.add_argument("--transaction", help="only this transaction (with --conversation)")
    trace.set_defaults(handler=show_trace)


def show_trace(args: argparse.Namespace) -> None:
    params: dict[str, str | int] = {"limit": args.limit}
    if args.since:
        params["since"] = args.since
    if getattr(args, "until", None):
        params["until"] = args.until
    if getattr(args, "conversation", False):
        show_conversation(args, params)
        return
    path = f"/chargers/{quote(args.charger, safe='')}/frames"
    frames = request("journal", "GET", path, params=params)
    if args.json:
        emit(frames, as_json=True)
        return
    if not frames:
        print("no frames for this charger in the journal")
        return
    # Answers carry no action on the wire; name them after the CALL they answer.
    actions = {f["message_id"]: f["action"] for f in frames if f.get("action")}
    rows = [
        {
            "time": str(f["ts"])[11:23],
            "hop": ARROWS.get(f["direction"], f["direction"]),
            "backend": f.get("backend"),
            "action": f.get("action") or _answer_label(f, actions),
            "message id": f.get("message_id"),
            "frame": _short(f["raw"]),
        }
        for f in frames
    ]
    print_table(rows, list(rows[0].keys()))


def _answer_label(frame: dict[str, Any], actions: dict[str, str]) -> str | None:
    kind = {3: "result", 4: "error", 5: "error"}.get(frame.get("message_type") or 0)
    action = actions.get(frame.get("message_id") or "")
    if kind is None:
        return None
    return f"{action} {kind}" if action else kind


def _short(raw: str, width: int = 90) -> str:
    return raw if len(raw) <= width else raw[: width - 3] + "..."


def show_conversation(args: argparse.Namespace, params: dict[str, str | int]) -> None:
    for name in ("action", "transaction"):
        if getattr(args, name):
            params[name] = getattr(args, name)
    path = f"/chargers/{quote(args.charger, safe='')}/conversation"
    exchanges = request("journal", "GET", path, params=params)
    if args.json:
        emit(exchanges, as_json=True)
        return
    if not exchanges:
        print("no exchanges for this charger in the journal")
        return
    rows = []
    for ex in exchanges:
        legs = " ".join(
            f"{leg['backend']}:{_ms(leg['forward_ms'])}/{_ms(leg['backend_ms'])}/"
            f"{_ms(leg['return_ms'])}"
            for leg in ex["legs"]
        )
        rows.append(
            {
                "time": str(ex["started_at"])[11:23],
                "from": ex["origin"],
                "action": ex["action"],
                "outcome": ex["outcome"],
                "total ms": _ms(ex["total_ms"]),
                "legs (in/backend/out ms)": legs,
            }
        )
    print_table(rows, list(rows[0].keys()))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
