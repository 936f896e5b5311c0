"""The measurements, one function per figure family. Each returns plain data for the JSON."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from switchyard_bench import procstats, profiling
from switchyard_bench.broker import PeerBroker
from switchyard_bench.frames import V16
from switchyard_bench.loadgen import LoadGenerator
from switchyard_bench.stack import Stack
from switchyard_bench.stats import added, summary

P99_LIMIT_MS = 50.0


@dataclass
class Options:
    seed: int = 8
    workers: int = 2
    csms: str = "lean"  # the backend of every path: csms_lean.py, or "ocpp" (csms.py)
    connect_pace_per_s: float = 180.0  # below the edge's default admission rate (200/s)
    latency_chargers: int = 1000
    latency_rate: float = 500.0
    latency_seconds: float = 30.0
    warmup_seconds: float = 5.0
    memory_steps: tuple[int, ...] = (1000, 5000, 10000)
    storm_chargers: int = 5000
    throughput_chargers: int = 1000
    throughput_rates: tuple[float, ...] = (100, 250, 500, 1000, 1500, 2000, 2500, 3000)
    step_seconds: float = 10.0
    profile_rate: float = 2000.0
    profile_seconds: float = 15.0
    storm_timeout_s: float = 180.0
    second_storm: bool = True  # again with handshake admission opened: the edge's own bound
    settle_s: float = 3.0

    @classmethod
    def quick(cls, seed: int = 8) -> Options:
        return cls(
            seed=seed,
            connect_pace_per_s=150.0,
            latency_chargers=40,
            latency_rate=50.0,
            latency_seconds=2.0,
            warmup_seconds=0.5,
            memory_steps=(20, 60, 100),
            storm_chargers=60,
            throughput_chargers=40,
            throughput_rates=(60,),
            step_seconds=1.5,
            profile_rate=60.0,
            profile_seconds=1.5,
            storm_timeout_s=30.0,
            second_storm=False,
            settle_s=1.0,
        )


@dataclass
class Bench:
    options: Options
    stack: Stack
    gen: LoadGenerator
    broker: PeerBroker | None
    out_dir: Path
    versions: list[str]
    log: list[str] = field(default_factory=list)
    idle_connected: int = 0  # idle chargers M-0.. left connected by the memory phase

    def say(self, message: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {message}"
        self.log.append(line)
        print(f"bench: {line}", flush=True)

    def pids(self) -> dict[str, list[int]]:
        found = self.stack.pids()
        found["loadgen"] = self.gen.pids
        if self.broker is not None and self.broker.proc is not None:
            found["ocpp-broker"] = [self.broker.proc.pid]
        return found

    def specs(self, n: int, only: str | None = None) -> list[tuple[int, str]]:
        return [(i, self.versions[i]) for i in range(n) if only in (None, self.versions[i])]

    def url_base(self, path: str) -> str:
        if path == "direct":
            return self.stack.csms_url
        if path == "switchyard":
            return self.stack.edge_url
        assert self.broker is not None
        return self.broker.url_base

    def connect(self, path: str, prefix: str, specs: list[tuple[int, str]]) -> dict[str, Any]:
        done = self.gen.connect(self.url_base(path), prefix, specs, self.options.connect_pace_per_s)
        if done["failed"]:
            self.say(f"  {done['failed']} of {len(specs)} chargers did not connect and boot on "
                     f"{path}: {done['errors'][:2]}")  # fmt: skip
        return done


# -- memory per idle charger ------------------------------------------------------------------


def memory(bench: Bench) -> dict[str, Any]:
    """Idle chargers (booted, then silent; the edge pings them) added in steps on one edge."""
    stack = bench.stack
    time.sleep(2.0)
    base = procstats.sample(bench.pids())
    steps = []
    connected = 0
    for target in bench.options.memory_steps:
        bench.say(f"memory: connecting idle chargers {connected} -> {target}")
        specs = [(i, bench.versions[i % len(bench.versions)]) for i in range(connected, target)]
        done = bench.connect("switchyard", "M-", specs)
        connected = bench.idle_connected = target
        time.sleep(bench.options.settle_s)  # let buffers settle
        now = procstats.sample(bench.pids())
        on_edge = procstats.metric(stack.api("edge"), "sy_edge_connected_chargers")
        upstreams = procstats.metric(stack.api("connectors"), "sy_connectors_upstreams_open")
        step = {
            "chargers": target,
            "connected_now": on_edge,
            "connect_failures": done["failed"],
            "handshake_refusals": done["refusals"],
            "upstreams_open": upstreams,
            "rss_mib": {k: round(v / 2**20, 1) for k, v in now.rss.items()},
            "edge_kib_per_charger": _per(now, base, "edge", on_edge or target),
            "connectors_kib_per_upstream": _per(now, base, "connectors", upstreams or target),
            "csms_kib_per_connection": _per(now, base, "csms", target),
        }
        bench.say(
            f"memory: {target} idle chargers (edge says {on_edge}): edge "
            f"{step['edge_kib_per_charger']} KiB/charger, connectors "
            f"{step['connectors_kib_per_upstream']} KiB/upstream"
        )
        steps.append(step)
    return {
        "baseline_rss_mib": {k: round(v / 2**20, 1) for k, v in base.rss.items()},
        "steps": steps,
    }


def _per(now: procstats.Sample, base: procstats.Sample, name: str, count: float) -> float | None:
    if name not in now.rss or name not in base.rss or not count:
        return None
    return round((now.rss[name] - base.rss[name]) / count / 1024, 1)


# -- reconnect storm ----------------------------------------------------------------------------


def storms(bench: Bench) -> dict[str, Any]:
    """Keep `storm_chargers` of the idle chargers, kill the edge, start a new one, and time until
    every charger has reconnected and booted; first as shipped, then with admission opened."""
    n = bench.options.storm_chargers
    connected = bench.idle_connected
    if connected < n:
        specs = [(i, bench.versions[i % len(bench.versions)]) for i in range(connected, n)]
        bench.connect("switchyard", "M-", specs)
    bench.gen.close(list(range(n, max(n, connected))))
    bench.gen.arm_reconnect()
    results = {"as_shipped": _storm(bench, n, {})}
    if bench.options.second_storm:
        opened = {"SY_HANDSHAKE_RATE_PER_S": "100000", "SY_HANDSHAKE_BURST": "100000"}
        results["admission_opened"] = _storm(bench, n, opened)
    bench.gen.disarm()
    bench.gen.close()
    return results


def _shipped_admission() -> str:
    from sy_edge.settings import EdgeSettings

    fields = EdgeSettings.model_fields
    rate = fields["handshake_rate_per_s"].default
    burst = fields["handshake_burst"].default
    return f"SY_HANDSHAKE_RATE_PER_S={rate:g}, SY_HANDSHAKE_BURST={burst}"


def _storm(bench: Bench, n: int, env: dict[str, str]) -> dict[str, Any]:
    label = "default admission" if not env else "admission opened"
    bench.say(f"storm: killing the edge with {n} chargers connected ({label})")
    refused_before = bench.gen.booted()["refusals"]
    killed_at, ready_s = bench.stack.restart_edge(kill=True, **env)
    ready_at = killed_at + ready_s
    deadline = time.monotonic() + bench.options.storm_timeout_s
    while True:
        state = bench.gen.booted()
        booted = sorted(t for t in state["booted_at"] if t > killed_at)
        if len(booted) >= n or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    curve = [round(t - ready_at, 3) for t in booted]
    result = {
        "chargers": n,
        "booted": len(booted),
        "edge_restart_s": round(ready_s, 2),
        "all_booted_after_edge_ready_s": curve[-1] if len(booted) >= n else None,
        "all_booted_after_kill_s": round(booted[-1] - killed_at, 2) if len(booted) >= n else None,
        "half_booted_after_edge_ready_s": curve[len(curve) // 2] if curve else None,
        "handshake_refusals_503": state["refusals"] - refused_before,
        "settings": env or f"as shipped ({_shipped_admission()})",
        "curve_s": curve[:: max(1, len(curve) // 200)],
        "failures": state["failures"],
    }
    bench.say(
        f"storm: {len(booted)}/{n} booted; all after {result['all_booted_after_edge_ready_s']} s "
        f"from edge ready ({result['all_booted_after_kill_s']} s from kill, restart "
        f"{result['edge_restart_s']} s), {result['handshake_refusals_503']} refusals"
    )
    return result


# -- latency and throughput ---------------------------------------------------------------------


def latency(bench: Bench) -> dict[str, Any]:
    """Same chargers, same seeded load, same rate, one path after the other."""
    o = bench.options
    runs: dict[str, Any] = {}
    plan = [("direct", None), ("switchyard", None), ("direct", V16), ("switchyard", V16)]
    if bench.broker is not None:
        plan.append(("ocpp-broker", V16))
    for path, only in plan:
        key = path if only is None else f"{path} (1.6 only)"
        specs = bench.specs(o.latency_chargers, only)
        bench.say(f"latency: {key}: {len(specs)} chargers at {o.latency_rate:.0f} CALLs/s")
        bench.connect(path, f"L{path[0].upper()}-", specs)
        runs[key] = _measured_run(bench, o.latency_rate, o.latency_seconds)
        bench.gen.close()
        r = runs[key]
        bench.say(f"  {key}: p50 {r['all']['p50_ms']} ms, p99 {r['all']['p99_ms']} ms, "
                  f"max {r['all']['max_ms']} ms, {r['achieved_per_s']}/s")  # fmt: skip
    result: dict[str, Any] = {"rate_per_s": o.latency_rate, "chargers": o.latency_chargers}
    result["runs"] = runs
    result["added_vs_direct"] = {
        "switchyard": added(runs["switchyard"]["all"], runs["direct"]["all"]),
        "switchyard (1.6 only)": added(
            runs["switchyard (1.6 only)"]["all"], runs["direct (1.6 only)"]["all"]
        ),
    }
    if "ocpp-broker (1.6 only)" in runs:
        result["added_vs_direct"]["ocpp-broker (1.6 only)"] = added(
            runs["ocpp-broker (1.6 only)"]["all"], runs["direct (1.6 only)"]["all"]
        )
    for version in ("ocpp1.6", "ocpp2.0.1"):
        result["added_vs_direct"][f"switchyard, {version} CALLs of the mix"] = added(
            runs["switchyard"][version], runs["direct"][version]
        )
    return result


def _measured_run(bench: Bench, rate: float, seconds: float) -> dict[str, Any]:
    lag = _LagWatcher(bench.stack.api("journal"))
    before = procstats.sample(bench.pids())
    lag.start()
    # CPU is sampled around the whole run (warm-up included): that is when the processes work.
    t0 = time.monotonic()
    run = bench.gen.run(rate, seconds, warmup_s=bench.options.warmup_seconds)
    after = procstats.sample(bench.pids())
    lag.stop()
    wall = time.monotonic() - t0
    latencies = run.pop("latencies_ms")
    everything = [v for values in latencies.values() for v in values]
    achieved = run["answered"] / run["window_s"]
    share = procstats.cpu_share(before, after)
    busy = procstats.machine_busy_cores(before, after)
    # per 1,000 CALLs/s actually answered (a saturated path answers fewer than offered)
    per_1000 = max(achieved, 1.0) / 1000.0
    return {
        **run,
        "offered_per_s": rate,
        "achieved_per_s": round(achieved, 1),
        "all": summary(everything),
        "ocpp1.6": summary(latencies["ocpp1.6"]),
        "ocpp2.0.1": summary(latencies["ocpp2.0.1"]),
        "cpu_cores": {k: round(v, 3) for k, v in share.items()},
        "cpu_cores_per_1000_calls_per_s": {k: round(v / per_1000, 3) for k, v in share.items()},
        "journal_lag": lag.result(),
        "machine_busy_cores": round(busy, 2),
        "outside_bench_cores": round(busy - sum(share.values()), 2),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "wall_s": round(wall, 1),
    }


class _LagWatcher:
    """Samples the journal's sy_journal_lag_messages every half second in a thread."""

    def __init__(self, journal_api: str) -> None:
        self.api = journal_api
        self.values: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            value = procstats.metric(self.api, "sy_journal_lag_messages")
            if value is not None:
                self.values.append(value)
            self._stop.wait(0.5)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def result(self) -> dict[str, float | None]:
        return {
            "max": max(self.values) if self.values else None,
            "end": self.values[-1] if self.values else None,
            "samples": len(self.values),
        }


def throughput(bench: Bench) -> dict[str, Any]:
    """Step the rate up per path until p99 passes 50 ms or the answers fall behind the offer."""
    o = bench.options
    paths = [("switchyard", None), ("direct", None)]
    if bench.broker is not None:
        paths.append(("ocpp-broker", V16))
    result: dict[str, Any] = {"p99_limit_ms": P99_LIMIT_MS, "paths": {}}
    for path, only in paths:
        key = path if only is None else f"{path} (1.6 only)"
        specs = bench.specs(o.throughput_chargers, only)
        bench.connect(path, f"T{path[0].upper()}-", specs)
        steps = []
        sustained = None
        for rate in o.throughput_rates:
            step = _measured_run(bench, rate, o.step_seconds)
            step.pop("cpu_cores_per_1000_calls_per_s")
            p99 = step["all"]["p99_ms"]
            ok = (
                p99 is not None
                and p99 <= P99_LIMIT_MS
                and step["achieved_per_s"] >= 0.95 * rate
                and step["failed"] <= 0.001 * max(1, step["answered"])
            )
            if path == "switchyard":
                lag_end = step["journal_lag"]["end"] or 0.0
                # keeping up: at the end of the step the journal is under 2 s of frames behind
                # (each CALL is 8 frames: CALL and answer on each of the four hops)
                step["journal_keeps_up"] = lag_end <= 2 * 8 * rate
                ok = ok and step["journal_keeps_up"]
            step["sustained"] = ok
            steps.append(step)
            bench.say(f"throughput: {key} {rate:.0f}/s offered -> {step['achieved_per_s']}/s, "
                      f"p99 {p99} ms, lag end {step['journal_lag']['end']}, "
                      f"{'ok' if ok else 'NOT sustained'}")  # fmt: skip
            if not ok:
                break
            sustained = rate
        result["paths"][key] = {"sustained_per_s": sustained, "steps": steps}
        bench.gen.close()
    return result


def profile(bench: Bench) -> dict[str, Any]:
    """py-spy on edge, connectors, journal and the CSMS while Switchyard carries `profile_rate`."""
    o = bench.options
    specs = bench.specs(o.throughput_chargers)
    bench.connect("switchyard", "P-", specs)
    pids = bench.pids()
    targets = {n: pids[n][0] for n in ("edge", "connectors", "journal", "csms") if n in pids}
    out = bench.out_dir / "profiles"
    bench.say(f"profile: py-spy on {', '.join(targets)} at {o.profile_rate:.0f} CALLs/s")
    seconds = o.profile_seconds + o.warmup_seconds
    running = profiling.record(targets, seconds, out)
    if not running:
        bench.gen.close()
        return {"error": "py-spy not found"}
    run = _measured_run(bench, o.profile_rate, o.profile_seconds)
    summary_ = profiling.finish(running, out)
    bench.gen.close()
    cores = run["cpu_cores"]
    hottest = max((n for n in targets if n in cores), key=lambda n: cores[n], default=None)
    return {
        "rate_per_s": o.profile_rate,
        "run": run,
        "hottest_process": hottest,
        "profiles_dir": str(out),
        "top_frames": summary_,
    }


def journal_drain(bench: Bench, timeout_s: float = 120.0) -> dict[str, Any]:
    """After the load: how long until the journal has stored everything that was published."""
    start = time.monotonic()
    first = procstats.metric(bench.stack.api("journal"), "sy_journal_lag_messages")
    value = first
    while value and value > 0 and time.monotonic() - start < timeout_s:
        time.sleep(0.5)
        value = procstats.metric(bench.stack.api("journal"), "sy_journal_lag_messages")
    return {"lag_at_end": first, "lag_now": value, "seconds": round(time.monotonic() - start, 1)}
