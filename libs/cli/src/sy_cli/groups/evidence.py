"""`switchyard evidence BACKEND`: the proof that an old backend can be decommissioned."""

from __future__ import annotations

import argparse
import json

import httpx

from sy_cli.endpoints import api_token, api_url
from sy_cli.groups.types import Commands
from sy_cli.http import request


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    evidence = commands.add_parser(
        "evidence", parents=[common], help="decommission evidence for a backend"
    )
    evidence.add_argument("backend", help="the backend to retire")
    evidence.add_argument(
        "--format",
        choices=("json", "md"),
        default="md",
        help="md: a document to attach to the ticket; json: for tools",
    )
    evidence.add_argument(
        "--export",
        action="store_true",
        help="first export sessions, events and status from the journal",
    )
    evidence.set_defaults(handler=run_evidence)


def run_evidence(args: argparse.Namespace) -> int:
    if args.export:
        request(
            "migration",
            "POST",
            f"/evidence/{args.backend}/exports",
            json={"reason": "decommission evidence"},
        )
    found = request("migration", "GET", f"/evidence/{args.backend}", params={"format": "json"})
    if args.format == "json" or args.json:
        print(json.dumps(found, indent=2))
    else:
        print(_markdown(args.backend))
    # Non-zero while the backend is still needed, so scripts can gate on it.
    return 0 if found["ready_to_decommission"] else 1


def _markdown(backend: str) -> str:
    token = api_token()
    response = httpx.get(
        f"{api_url('migration')}/evidence/{backend}",
        params={"format": "md"},
        headers={"Authorization": f"Bearer {token}"} if token else {},
        timeout=30,
    )
    return response.text
