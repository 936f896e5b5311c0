"""The results: one table for people, the JSON, and the plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TARGETS = {
    "added_p50_ms": 1.0,
    "added_p99_ms": 5.0,
    "sustained_per_s": 2000.0,
    "edge_kib_per_idle_charger": 32.0,
    "chargers_on_one_edge": 10000,
    "storm_s": 20.0,
}


def headline(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each figure with its target and whether it was met (None when it was not measured)."""
    rows: list[dict[str, Any]] = []
    lat = results.get("latency", {})
    add = lat.get("added_vs_direct", {}).get("switchyard", {})
    rate = lat.get("rate_per_s")
    if "latency" in results:
        rows.append(_row(f"added latency p50 @ {rate:.0f}/s (ms)" if rate else "added p50 (ms)",
                     add.get("p50_ms"), TARGETS["added_p50_ms"], "<="))  # fmt: skip
        rows.append(_row(f"added latency p99 @ {rate:.0f}/s (ms)" if rate else "added p99 (ms)",
                         add.get("p99_ms"), TARGETS["added_p99_ms"], "<="))  # fmt: skip
        rows.append(_row("added latency max (ms, slowest - floor p50)", add.get("max_ms"), None, ""))
    thr = results.get("throughput", {}).get("paths", {})
    if "throughput" in results:
        rows.append(_row("CALLs/s sustained, p99 < 50 ms, journal keeping up",
                     thr.get("switchyard", {}).get("sustained_per_s"),
                     TARGETS["sustained_per_s"], ">="))  # fmt: skip
    steps = results.get("memory", {}).get("steps", [])
    for step in steps:
        rows.append(_row(f"edge KiB per idle charger @ {step['chargers']}",
                         step.get("edge_kib_per_charger"), TARGETS["edge_kib_per_idle_charger"],
                         "<="))  # fmt: skip
    if steps:
        last = steps[-1]
        rows.append(_row("chargers connected on one edge", last.get("connected_now"),
                         TARGETS["chargers_on_one_edge"], ">="))  # fmt: skip
        rows.append(_row(f"connectors KiB per upstream @ {last['chargers']}",
                         last.get("connectors_kib_per_upstream"), None, ""))  # fmt: skip
    for label, storm in results.get("storms", {}).items():
        target = TARGETS["storm_s"]
        rows.append(_row(f"{storm['chargers']} chargers reconnected+booted, s ({label})",
                         storm.get("all_booted_after_edge_ready_s"), target, "<="))  # fmt: skip
    cpu = results.get("cpu_per_1000_calls_per_s", {}).get("cores", {})
    for name in ("edge", "connectors", "journal", "nats", "postgres", "csms"):
        if name in cpu:
            rows.append(_row(f"CPU cores per 1,000 CALLs/s: {name}", cpu[name], None, ""))
    return rows


def _row(figure: str, value: Any, target: float | None, op: str) -> dict[str, Any]:
    met = None
    if target is not None and isinstance(value, int | float):
        met = value <= target if op == "<=" else value >= target
    elif target is not None:
        met = False if value is None else None
    return {"figure": figure, "value": value, "target": f"{op} {target:g}" if target else "",
            "met": met}  # fmt: skip


def table(rows: list[dict[str, Any]]) -> str:
    width = max(len(r["figure"]) for r in rows)
    lines = [f"{'figure':<{width}}  {'measured':>10}  {'target':>9}  met", "-" * (width + 30)]
    for r in rows:
        value = "-" if r["value"] is None else f"{r['value']:g}" if isinstance(
            r["value"], int | float) else str(r["value"])  # fmt: skip
        met = {True: "yes", False: "NO", None: ""}[r["met"]]
        lines.append(f"{r['figure']:<{width}}  {value:>10}  {r['target']:>9}  {met}")
    return "\n".join(lines)


def paths_table(results: dict[str, Any]) -> str:
    runs = results.get("latency", {}).get("runs", {})
    thr = results.get("throughput", {}).get("paths", {})
    lines = [f"{'path':<24} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'CALLs/s':>8} "
             f"{'sustained/s':>11}"]  # fmt: skip
    for key, run in runs.items():
        s = run["all"]
        lines.append(f"{key:<24} {s['p50_ms']!s:>8} {s['p99_ms']!s:>8} {s['max_ms']!s:>8} "
                     f"{run['achieved_per_s']!s:>8} "
                     f"{thr.get(key, {}).get('sustained_per_s', '')!s:>11}")  # fmt: skip
    return "\n".join(lines)


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    fig.suptitle(f"Switchyard bench {results.get('started', '')} (seed {results.get('seed')}, "
                 f"{results.get('machine', {}).get('cpus')} CPUs)")  # fmt: skip

    ax = axes[0][0]
    runs = results.get("latency", {}).get("runs", {})
    names = list(runs)
    for i, stat in enumerate(("p50_ms", "p99_ms", "max_ms")):
        values = [runs[n]["all"][stat] or 0 for n in names]
        ax.bar([x + i * 0.27 for x in range(len(names))], values, width=0.27, label=stat[:-3])
    ax.set_xticks([x + 0.27 for x in range(len(names))], names, rotation=15, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("ms per charger CALL")
    ax.set_title(f"latency at {results.get('latency', {}).get('rate_per_s', 0):.0f} CALLs/s")
    ax.legend()

    ax = axes[0][1]
    for key, data in results.get("throughput", {}).get("paths", {}).items():
        xs = [s["offered_per_s"] for s in data["steps"]]
        ys = [s["all"]["p99_ms"] or 0 for s in data["steps"]]
        ax.plot(xs, ys, marker="o", label=key)
    ax.axhline(50, color="grey", linestyle="--", label="p99 limit 50 ms")
    ax.set_xlabel("offered CALLs/s")
    ax.set_ylabel("p99 ms")
    ax.set_yscale("log")
    ax.set_title("p99 while stepping the rate up")
    ax.legend(fontsize=8)

    ax = axes[1][0]
    steps = results.get("memory", {}).get("steps", [])
    base = results.get("memory", {}).get("baseline_rss_mib", {})
    for name in ("edge", "connectors", "csms"):
        xs = [0] + [s["chargers"] for s in steps]
        ys = [base.get(name, 0)] + [s["rss_mib"].get(name, 0) for s in steps]
        ax.plot(xs, ys, marker="o", label=name)
    ax.set_xlabel("idle chargers connected")
    ax.set_ylabel("RSS MiB")
    ax.set_title("memory with idle chargers")
    ax.legend(fontsize=8)

    ax = axes[1][1]
    for label, storm in results.get("storms", {}).items():
        curve = storm.get("curve_s", [])
        if curve:
            n = storm["booted"]
            ax.plot(curve, [n * (i + 1) / len(curve) for i in range(len(curve))], label=label)
    ax.axvline(20, color="grey", linestyle="--", label="target 20 s")
    ax.set_xlabel("seconds after the new edge is ready")
    ax.set_ylabel("chargers reconnected and booted")
    ax.set_title("reconnect storm after an edge kill")
    ax.legend(fontsize=8)

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
