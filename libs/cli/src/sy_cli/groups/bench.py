"""`switchyard bench`: the gateway's cost measured against going direct and against a peer
gateway, in one run (`make bench`). The bench itself lives in the repository's bench/ folder."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import Any

from sy_cli.groups.types import Commands
from sy_cli.http import CliError


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    bench = commands.add_parser(
        "bench",
        help="measure latency, throughput, memory and reconnect time on this machine (make bench)",
    )
    bench.add_argument("--quick", action="store_true", help="small N: a minute, for smoke tests")
    bench.add_argument("--seed", type=int, default=8, help="seed of the simulated fleet")
    bench.add_argument("--results", type=Path, help="where to write (default bench/results)")
    bench.add_argument("--rate", type=float, help="CALLs/s of the latency comparison")
    bench.add_argument("--chargers", type=int, help="chargers in the latency and rate runs")
    bench.add_argument("--workers", type=int, help="load generator processes (default 2)")
    bench.add_argument(
        "--only",
        help="comma-separated phases: memory,storms,latency,throughput,profile,journal_drain",
    )
    bench.add_argument(
        "--csms",
        choices=("lean", "ocpp"),
        default="lean",
        help="the backend every path talks to: a lean raw-WebSocket CSMS (default) or one built "
        "with the ocpp library (about 1 ms of CPU per CALL on its own)",
    )
    bench.add_argument("--keep", action="store_true", help="keep the suite's logs and data")
    bench.set_defaults(handler=run_bench)


def _bench_dir() -> Path:
    candidates = [os.environ.get("SY_BENCH_DIR"), Path.cwd() / "bench"]
    candidates.append(Path(__file__).resolve().parents[5] / "bench")
    for candidate in candidates:
        if candidate and (Path(candidate) / "switchyard_bench").is_dir():
            return Path(candidate).resolve()
    raise CliError("bench/ not found: run this from the Switchyard repository (or SY_BENCH_DIR)")


def run_bench(args: argparse.Namespace) -> int:
    bench_dir = _bench_dir()
    if str(bench_dir) not in sys.path:
        sys.path.insert(0, str(bench_dir))
    # Imported by name: the bench is repository code, not part of the installed CLI.
    phases: Any = importlib.import_module("switchyard_bench.phases")
    runner: Any = importlib.import_module("switchyard_bench.runner")
    options = phases.Options.quick(args.seed) if args.quick else phases.Options(seed=args.seed)
    if args.rate:
        options.latency_rate = args.rate
    if args.chargers:
        options.latency_chargers = options.throughput_chargers = args.chargers
    if args.workers:
        options.workers = args.workers
    options.csms = args.csms
    results = args.results or bench_dir / "results"
    only = set(args.only.split(",")) if args.only else None
    return int(runner.run(options, results, quick=args.quick, keep_workdir=args.keep, only=only))
