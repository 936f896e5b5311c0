"""`switchyard evidence BACKEND`: the proof that an old backend can be decommissioned."""

from __future__ import annotations

import argparse
import json
import sys

import httpx

from sy_cli.endpoints import api_token, api_url
from sy_cli.groups.types import Commands
from sy_cli.http import CliError, request


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
        print(_markdown(args.backend), end="")
    if found["ready_to_decommission"]:
        return 0
    # Non-zero while the backend is still needed, so scripts can gate on it; say why.
    failing = "; ".join(c["message"] for c in found["checks"] if not c["ok"])
    print(
        f"switchyard: backend {args.backend} is not ready to decommission: {failing}",
        file=sys.stderr,
    )
    return 1


def _markdown(backend: str) -> str:
    """The service's own rendering (the JSON call above already proved the API answers)."""
    token = api_token()
    url = f"{api_url('migration')}/evidence/{backend}"
    try:
        response = httpx.get(
            url,
            params={"format": "md"},
            headers={"Authorization": f"Bearer {token}"} if token else {},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        raise CliError(
            f"cannot reach the migration API at {url} ({exc.__class__.__name__})"
        ) from None
    if response.status_code != 200:
        raise CliError(
            f"migration refused the Markdown evidence for {backend}: HTTP "
            f"{response.status_code} {' '.join(response.text[:200].split())}"
        )
    return response.text
