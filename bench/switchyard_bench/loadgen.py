"""The load generator: worker processes, each with its own event loop and its share of chargers.

The parent (`LoadGenerator`) sends a worker one command at a time over a pipe and waits for its
reply; the workers never share an event loop with a gateway. CALLs are offered open loop: a
Poisson schedule at the worker's share of the rate picks a random idle charger for each CALL.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import random
import resource
import time
from multiprocessing.connection import Connection
from typing import Any

from switchyard_bench.charger import Charger, Outcome
from switchyard_bench.frames import V16, V201, Profile


def raise_fd_limit() -> int:
    """Raise RLIMIT_NOFILE as far as this process may: thousands of sockets each."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for want in (1_048_576, 262_144, 65_536, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(want, hard)))
            return want
        except (ValueError, OSError):
            continue
    return soft


def versions(n: int, seed: int, share_16: float = 0.5) -> list[str]:
    """The version of each charger index: the same mix for the same seed."""
    rng = random.Random(seed)
    return [V16 if rng.random() < share_16 else V201 for _ in range(n)]


class Worker:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.chargers: dict[int, Charger] = {}

    # -- commands -------------------------------------------------------------------------------

    async def connect(
        self, url_base: str, prefix: str, specs: list[tuple[int, str]], pace_per_s: float
    ) -> dict[str, Any]:
        start = time.monotonic()
        tasks = []
        for n, (index, version) in enumerate(specs):
            charger_id = f"{prefix}{index:05d}"
            rng = random.Random(self.seed * 1_000_003 + index)
            charger = Charger(
                charger_id,
                f"{url_base}/{charger_id}",
                Profile(version, random.Random(rng.random()), f"SN{index:07d}"),
                rng,
            )
            self.chargers[index] = charger
            due = start + n / pace_per_s
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self._open(charger)))
        results = await asyncio.gather(*tasks, return_exceptions=True)
        failed = [str(r) for r in results if isinstance(r, BaseException)]
        failed += [r for r in results if isinstance(r, str)]
        return {
            "connected": len(specs) - len(failed),
            "failed": len(failed),
            "errors": failed[:5],
            "refusals": sum(self.chargers[i].refusals for i, _ in specs),
            "seconds": time.monotonic() - start,
        }

    async def _open(self, charger: Charger) -> str | None:
        await charger.dial()
        outcomes = await charger.boot()
        bad = [o.action for o in outcomes if not o.ok]
        return f"{charger.charger_id}: boot not accepted ({bad})" if bad else None

    async def run(
        self, rate_per_s: float, duration_s: float, warmup_s: float, timeout_s: float
    ) -> dict[str, Any]:
        chargers = [c for c in self.chargers.values() if c.ws is not None]
        rng = random.Random(self.seed + int(rate_per_s * 1000))
        outcomes: list[tuple[str, Outcome]] = []
        skipped = 0
        pending: set[asyncio.Task[None]] = set()

        async def one(charger: Charger) -> None:
            outcome = await charger.step(timeout_s)
            outcomes.append((charger.version, outcome))

        start = time.perf_counter()
        measure_from = start + warmup_s
        end = measure_from + duration_s
        next_at = start
        while True:
            now = time.perf_counter()
            if now >= end:
                break
            while next_at <= now:
                next_at += rng.expovariate(rate_per_s)
                for _ in range(len(chargers)):
                    charger = chargers[rng.randrange(len(chargers))]
                    if not charger.busy:
                        charger.busy = True  # claimed now; the task sends soon
                        task = asyncio.create_task(one(charger))
                        pending.add(task)
                        task.add_done_callback(pending.discard)
                        break
                else:
                    skipped += 1
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        if pending:
            await asyncio.wait(pending, timeout=timeout_s + 5)
        window = [(v, o) for v, o in outcomes if measure_from <= o.sent_at < end]
        latencies: dict[str, list[float]] = {V16: [], V201: []}
        for version, outcome in window:
            if outcome.ok:
                latencies[version].append(outcome.seconds * 1000.0)
        return {
            "offered": sum(1 for _ in window) + skipped,
            "answered": sum(len(v) for v in latencies.values()),
            "failed": sum(1 for _, o in window if not o.ok),
            "skipped": skipped,
            "window_s": duration_s,
            "latencies_ms": latencies,
        }

    async def close(self, indices: list[int] | None) -> dict[str, Any]:
        chosen = list(self.chargers) if indices is None else indices
        closing = [self.chargers.pop(i) for i in chosen if i in self.chargers]
        await asyncio.gather(*(c.close() for c in closing), return_exceptions=True)
        return {"closed": len(closing)}

    async def arm_reconnect(self) -> dict[str, Any]:
        for charger in self.chargers.values():
            charger.reconnect = True
        return {"armed": len(self.chargers)}

    async def booted(self) -> dict[str, Any]:
        times = [c.booted_at for c in self.chargers.values()]
        return {
            "booted_at": [t for t in times if t is not None],
            "waiting": sum(1 for t in times if t is None),
            "refusals": sum(c.refusals for c in self.chargers.values()),
            "failures": [f for c in self.chargers.values() for f in c.failures][:5],
        }

    async def disarm(self) -> dict[str, Any]:
        for charger in self.chargers.values():
            charger.reconnect = False
            charger.refusals = 0
        return {}


def _worker_main(conn: Connection, seed: int) -> None:
    raise_fd_limit()
    asyncio.run(_serve(conn, Worker(seed)))


async def _serve(conn: Connection, worker: Worker) -> None:
    loop = asyncio.get_running_loop()
    while True:
        command, kwargs = await loop.run_in_executor(None, conn.recv)
        if command == "stop":
            await worker.close(None)
            conn.send({})
            return
        try:
            reply = await getattr(worker, command)(**kwargs)
        except Exception as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        conn.send(reply)


class LoadGenerator:
    """`workers` processes; charger index i lives in worker i % workers."""

    def __init__(self, workers: int, seed: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes = []
        for n in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(child, seed + n), daemon=True)
            proc.start()
            self.pipes.append(parent)
            self.processes.append(proc)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    def _all(self, command: str, per_worker: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for pipe, kwargs in zip(self.pipes, per_worker, strict=True):
            pipe.send((command, kwargs))
        replies = [pipe.recv() for pipe in self.pipes]
        errors = [r["error"] for r in replies if "error" in r]
        if errors:
            raise RuntimeError(f"load generator {command}: {errors[0]}")
        return replies

    def _split(self, indices: list[int]) -> list[list[int]]:
        n = len(self.pipes)
        return [[i for i in indices if i % n == w] for w in range(n)]

    def connect(
        self, url_base: str, prefix: str, specs: list[tuple[int, str]], pace_per_s: float
    ) -> dict[str, Any]:
        n = len(self.pipes)
        parts = [[s for s in specs if s[0] % n == w] for w in range(n)]
        replies = self._all(
            "connect",
            [
                {"url_base": url_base, "prefix": prefix, "specs": p, "pace_per_s": pace_per_s / n}
                for p in parts
            ],
        )
        return {
            "connected": sum(r["connected"] for r in replies),
            "failed": sum(r["failed"] for r in replies),
            "errors": [e for r in replies for e in r["errors"]][:5],
            "refusals": sum(r["refusals"] for r in replies),
            "seconds": max(r["seconds"] for r in replies),
        }

    def run(
        self, rate_per_s: float, duration_s: float, warmup_s: float = 2.0, timeout_s: float = 10.0
    ) -> dict[str, Any]:
        n = len(self.pipes)
        kwargs = {
            "rate_per_s": rate_per_s / n,
            "duration_s": duration_s,
            "warmup_s": warmup_s,
            "timeout_s": timeout_s,
        }
        replies = self._all("run", [kwargs] * n)
        latencies: dict[str, list[float]] = {V16: [], V201: []}
        for r in replies:
            for version, values in r["latencies_ms"].items():
                latencies[version].extend(values)
        return {
            "offered": sum(r["offered"] for r in replies),
            "answered": sum(r["answered"] for r in replies),
            "failed": sum(r["failed"] for r in replies),
            "skipped": sum(r["skipped"] for r in replies),
            "window_s": duration_s,
            "latencies_ms": latencies,
        }

    def close(self, indices: list[int] | None = None) -> int:
        if indices is None:
            replies = self._all("close", [{"indices": None}] * len(self.pipes))
        else:
            replies = self._all("close", [{"indices": p} for p in self._split(indices)])
        return sum(r["closed"] for r in replies)

    def arm_reconnect(self) -> None:
        self._all("arm_reconnect", [{}] * len(self.pipes))

    def disarm(self) -> None:
        self._all("disarm", [{}] * len(self.pipes))

    def booted(self) -> dict[str, Any]:
        replies = self._all("booted", [{}] * len(self.pipes))
        return {
            "booted_at": [t for r in replies for t in r["booted_at"]],
            "waiting": sum(r["waiting"] for r in replies),
            "refusals": sum(r["refusals"] for r in replies),
            "failures": [f for r in replies for f in r["failures"]][:5],
        }

    def stop(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(BrokenPipeError, OSError):
                pipe.send(("stop", {}))
        for proc in self.processes:
            proc.join(15)
            if proc.is_alive():
                proc.terminate()
