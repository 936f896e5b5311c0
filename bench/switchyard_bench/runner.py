"""`switchyard bench`: start everything, run every measurement, write the results."""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from switchyard_bench import phases, report
from switchyard_bench.broker import PeerBroker
from switchyard_bench.loadgen import LoadGenerator, raise_fd_limit, versions
from switchyard_bench.phases import Bench, Options
from switchyard_bench.stack import Stack


def run(
    options: Options,
    results_dir: Path,
    *,
    quick: bool,
    keep_workdir: bool = False,
    only: set[str] | None = None,
) -> int:
    started = datetime.now(UTC)
    stem = started.strftime("%Y-%m-%d") + ("-quick" if quick else "")
    if only:
        stem += "-" + "-".join(sorted(only))
    fd_limit = raise_fd_limit()  # the services, CSMS and broker inherit it
    workdir = Path(tempfile.mkdtemp(prefix="sy-bench-"))
    results: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "quick": quick,
        "seed": options.seed,
        "options": {k: v for k, v in vars(options).items()},
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
            "kernel": platform.release(),
            "fd_limit": fd_limit,
            # the machine may be shared: other work shows in each run's outside_bench_cores
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "errors": {},
    }
    n = max(*options.memory_steps, options.latency_chargers, options.throughput_chargers)
    stack = Stack(workdir, csms=options.csms)
    gen: LoadGenerator | None = None
    broker: PeerBroker | None = None
    t0 = time.monotonic()
    try:
        print("bench: starting NATS, Postgres, the five services and the CSMS peer ...", flush=True)
        stack.start()
        gen = LoadGenerator(options.workers, options.seed)
        broker = PeerBroker(workdir / "ocpp-broker", stack.csms_url)
        if broker.start() is None:
            results["ocpp_broker"] = {"ran": False, "why": broker.problem}
            broker = None
        else:
            results["ocpp_broker"] = {"ran": True, "url": broker.url_base}
        bench = Bench(options, stack, gen, broker, results_dir / f"{stem}-profiles",
                      versions(n, options.seed))  # fmt: skip
        steps: list[tuple[str, Callable[[Bench], dict[str, Any]]]] = [
            ("memory", phases.memory),
            ("storms", phases.storms),
            ("latency", phases.latency),
            ("throughput", phases.throughput),
            ("profile", phases.profile),
            ("journal_drain", phases.journal_drain),
        ]
        for name, phase in steps:
            if only and name not in only:
                continue
            try:
                results[name] = phase(bench)
            except Exception as exc:
                bench.say(f"{name} failed: {type(exc).__name__}: {exc}")
                results["errors"][name] = traceback.format_exc()
                if gen is not None:
                    try:
                        gen.disarm()
                        gen.close()
                    except Exception:
                        pass
        results["cpu_per_1000_calls_per_s"] = _cpu(results)
        results["log"] = bench.log
    finally:
        if gen is not None:
            gen.stop()
        if broker is not None:
            broker.stop()
        stack.stop()
        results["duration_s"] = round(time.monotonic() - t0, 1)
        if keep_workdir or results["errors"]:
            results["workdir"] = str(workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results["headline"] = report.headline(results)
    json_path = results_dir / f"{stem}.json"
    report.write_json(results, json_path)
    try:
        report.plot(results, results_dir / f"{stem}.png")
    except Exception as exc:
        results["errors"]["plot"] = f"{type(exc).__name__}: {exc}"
        report.write_json(results, json_path)
    print()
    print(report.table(results["headline"]))
    print()
    print(report.paths_table(results))
    if not results.get("ocpp_broker", {}).get("ran"):
        print(f"\nocpp-broker did not run: {results.get('ocpp_broker', {}).get('why')}")
    print(f"\nresults: {json_path} and {json_path.with_suffix('.png')}")
    if results["errors"]:
        print(f"phases that failed: {', '.join(results['errors'])} (see the JSON)")
        return 1
    return 0


def _cpu(results: dict[str, Any]) -> dict[str, Any]:
    """CPU cores used per 1,000 CALLs/s through Switchyard: at the latency comparison's rate
    (the same rate in every run, so runs compare; at a low rate the processes' idle work would
    dominate), else at the highest sustained throughput step."""
    runs = results.get("latency", {}).get("runs", {})
    if "switchyard" in runs:
        return {
            "at_rate_per_s": runs["switchyard"]["offered_per_s"],
            "cores": runs["switchyard"]["cpu_cores_per_1000_calls_per_s"],
        }
    steps = results.get("throughput", {}).get("paths", {}).get("switchyard", {}).get("steps", [])
    good = [s for s in steps if s.get("sustained")] or steps[:1]
    if good:
        step = good[-1]
        rate = max(step["achieved_per_s"], 1.0)
        cores = {k: round(v / (rate / 1000.0), 3) for k, v in step["cpu_cores"].items()}
        return {"at_rate_per_s": rate, "cores": cores}
    return {}
