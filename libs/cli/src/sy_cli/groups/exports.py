"""`switchyard export sessions|status|frames|events`: stream a journal export to a file."""

from __future__ import annotations

import argparse
import sys
import time

import httpx

from sy_cli.endpoints import ENV, api_token, api_url
from sy_cli.groups.types import Commands
from sy_cli.http import CliError

KINDS = ("sessions", "status", "frames", "events")
FORMATS = ("ndjson", "csv", "parquet")


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    export = commands.add_parser(
        "export",
        parents=[common],
        help="stream sessions, status history, raw frames or events from the journal to a file",
    )
    export.add_argument("kind", choices=KINDS, help="what to export")
    export.add_argument("--since", help="ISO 8601 time with timezone (inclusive)")
    export.add_argument("--until", help="ISO 8601 time with timezone (exclusive)")
    export.add_argument("--charger", help="only this charger")
    export.add_argument("--format", choices=FORMATS, default="ndjson", help="default ndjson")
    export.add_argument("-o", "--output", required=True, help="file to write ('-' for stdout)")
    export.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> None:
    params = {"format": args.format}
    for name in ("since", "until"):
        if getattr(args, name):
            params[name] = getattr(args, name)
    if args.charger:
        params["charger_id"] = args.charger
    base = api_url("journal")
    url = f"{base}/exports/{args.kind}"
    out = sys.stdout.buffer if args.output == "-" else open(args.output, "wb")  # noqa: SIM115
    written = lines = 0
    started = last = time.monotonic()
    token = api_token()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    timeout = httpx.Timeout(30, read=None)
    try:
        with httpx.stream("GET", url, params=params, headers=headers, timeout=timeout) as resp:
            if resp.status_code >= 400:
                resp.read()
                raise CliError(f"journal refused the export: HTTP {resp.status_code} {resp.text}")
            for chunk in resp.iter_bytes():
                out.write(chunk)
                written += len(chunk)
                if args.format != "parquet":
                    lines += chunk.count(b"\n")
                if time.monotonic() - last > 0.5:
                    _progress(args.kind, written, lines, started)
                    last = time.monotonic()
    except httpx.HTTPError as exc:
        raise CliError(
            f"cannot reach the journal API at {base} ({exc.__class__.__name__}); "
            f"set {ENV['journal']} to point elsewhere."
        ) from None
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    if args.format == "csv":
        lines = max(0, lines - 1)  # the header
    _progress(args.kind, written, lines, started, done=True)


def _progress(kind: str, written: int, lines: int, started: float, *, done: bool = False) -> None:
    rows = f"{lines} rows, " if lines else ""
    state = "done" if done else "exporting"
    elapsed = time.monotonic() - started
    print(
        f"{state} {kind}: {rows}{written / 1e6:.1f} MB in {elapsed:.1f}s",
        file=sys.stderr,
        end="\n" if done else "\r",
    )
