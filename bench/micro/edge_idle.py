"""What one edge costs per idle charger, and how fast it takes a reconnect storm: the edge alone.

Starts NATS and Postgres, the edge in a child process (its app's lifespan, as `sy_edge serve`
runs it, without the HTTP server), a stand-in for the connectors that answers every charger CALL
at once (`[3,id,{...}]` on `sy.up.>`), and the bench's own load generator (2 processes). Then:

* memory: boots idle chargers in steps and reports the edge's RSS growth per connected charger
  (connected = the edge's own session count); `--tracemalloc` adds the top allocation sites of
  the growth (tracemalloc itself inflates RSS: use the RSS figures of a run without it);
* `--storm`: with the last step's chargers connected, SIGKILLs the edge, starts a new one on the
  same port and times until every charger has reconnected and its BootNotification is accepted.

Nothing here waits for a backend: it is the edge's own share of the bench's figures.

    uv run python bench/micro/edge_idle.py --steps 1000 5000 [--storm] [--tracemalloc]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import nats
import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # switchyard_bench

from switchyard_bench.loadgen import LoadGenerator, raise_fd_limit, versions

from sy_bus import streams
from sy_devkit.net import free_port, wait_for_port

BOOT_RESULT = {"status": "Accepted", "currentTime": "2026-11-21T10:00:00.000Z", "interval": 300}


# -- the stand-in for the connectors ------------------------------------------------------------


def connectors(url: str, ready: Any) -> None:
    async def run() -> None:
        nc = await nats.connect(url)

        async def answer(msg: Any) -> None:
            call = orjson.loads(msg.data)
            payload = BOOT_RESULT if call[2] == "BootNotification" else {}
            await msg.respond(orjson.dumps([3, call[1], payload]))

        await nc.subscribe("sy.up.>", cb=answer)
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(run())


# -- the edge --------------------------------------------------------------------------------------


def edge(settings: dict[str, Any], conn: Connection, trace: bool) -> None:
    import logging
    import tracemalloc

    if trace:
        tracemalloc.start(8)
    from sy_devkit.inprocess import app_client
    from sy_edge.app import build_app
    from sy_edge.settings import EdgeSettings

    logging.disable(logging.INFO)  # the service logs one line per connect; not what is measured
    app = build_app(EdgeSettings(**settings))
    snapshot: list[Any] = []

    def serve_commands() -> None:
        while True:
            command, *command_arg = conn.recv().split()
            if command == "sample":
                sessions = len(app.state.edge.sessions)
                conn.send({"rss": psutil.Process().memory_info().rss, "sessions": sessions})
            elif command == "snapshot":
                snapshot[:] = [tracemalloc.take_snapshot()] if trace else []
                conn.send({})
            elif command == "census":
                try:
                    conn.send({"census": census(int(command_arg[0]) if command_arg else 0)})
                except Exception as exc:
                    conn.send({"census": [repr(exc)]})
            elif command == "growth":
                conn.send({"growth": growth(snapshot[0]) if trace and snapshot else []})

    async def run() -> None:
        async with app_client(app):
            threading.Thread(target=serve_commands, daemon=True).start()
            conn.send({"ready": True})
            await asyncio.Event().wait()

    asyncio.run(run())


def growth(before: Any) -> list[str]:
    """Where the traced memory grew: by allocation site, and by the innermost frame of the
    project or of the libraries it sits on (who asked for it)."""
    import tracemalloc

    now = tracemalloc.take_snapshot()
    lines = ["by allocation site:"]
    for stat in now.compare_to(before, "lineno")[:15]:
        frame = stat.traceback[-1]
        lines.append(f"| {stat.size_diff / 1024:8.0f} KiB {stat.count_diff:+8d}  "
                     f"{'/'.join(Path(frame.filename).parts[-2:])}:{frame.lineno}")  # fmt: skip
    owners: dict[str, int] = {}
    for stat in now.compare_to(before, "traceback"):
        owner = "?"
        for frame in reversed(stat.traceback):  # newest first
            parts = Path(frame.filename).parts
            if any(p.startswith(("sy_", "websockets", "nats")) for p in parts):
                owner = f"{'/'.join(parts[-2:])}:{frame.lineno}"
                break
        owners[owner] = owners.get(owner, 0) + stat.size_diff
    lines.append("by the innermost project / websockets / nats frame:")
    for owner, size in sorted(owners.items(), key=lambda kv: -kv[1])[:20]:
        lines.append(f"| {size / 1024:8.0f} KiB  {owner}")
    return lines


_census_base: dict[str, int] = {}


def census(chargers: int) -> list[str]:
    """Live objects by type (gc-tracked ones) grown since the baseline, per charger; with
    `chargers` 0, takes the baseline."""
    import gc
    from collections import Counter

    gc.collect()
    counts = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())
    if not chargers:
        _census_base.clear()
        _census_base.update(counts)
        return []
    counts.subtract(_census_base)
    return [f"| {c / chargers:7.2f} per charger  {name}" for name, c in counts.most_common(30)]


class Edge:
    def __init__(self, settings: dict[str, Any], trace: bool) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipe, child = ctx.Pipe()
        self.proc = ctx.Process(target=edge, args=(settings, child, trace), daemon=True)
        self.proc.start()
        assert self.pipe.recv() == {"ready": True}

    def ask(self, command: str) -> dict[str, Any]:
        self.pipe.send(command)
        reply: dict[str, Any] = self.pipe.recv()
        return reply

    def kill(self) -> None:
        assert self.proc.pid is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.join()


# -- the run ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--pace", type=float, default=400.0, help="connects per second")
    parser.add_argument("--storm", action="store_true")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--census", action="store_true", help="live objects by type")
    parser.add_argument("--profile", help="py-spy the new edge during the storm into this file")
    args = parser.parse_args()

    from sy_devkit.embedded_nats import EmbeddedNats
    from sy_devkit.embedded_postgres import EmbeddedPostgres
    from sy_platform.migrations import upgrade

    raise_fd_limit()
    work = Path(tempfile.mkdtemp(prefix="sy-micro-"))
    work.chmod(0o755)
    nats_server = EmbeddedNats(work / "nats", locked=False).start()
    pg = EmbeddedPostgres(work / "pg", durable=False).start()
    gen: LoadGenerator | None = None
    edge_proc: Edge | None = None
    ctx = multiprocessing.get_context("spawn")
    try:
        database = pg.create_database("edge_bench")
        upgrade("sy_edge", database)

        async def provision() -> None:
            nc = await nats.connect(nats_server.url)
            await streams.provision(nc.jetstream())
            await nc.close()

        asyncio.run(provision())
        ready = ctx.Event()
        stand_in = ctx.Process(target=connectors, args=(nats_server.url, ready), daemon=True)
        stand_in.start()
        ready.wait(30)
        port = free_port()
        settings = {
            "nats_url": nats_server.url,
            "database_url": database,
            "ocpp_port": port,
            "ocpp_host": "127.0.0.1",
            "allow_unauthenticated": True,
            "handshake_rate_per_s": 100_000,
            "handshake_burst": 100_000,
            "instance_id": "edge-micro",
        }
        edge_proc = Edge(settings, args.tracemalloc)
        wait_for_port(port, timeout_s=30)
        n = max(args.steps)
        gen = LoadGenerator(2, seed=8)
        specs_all = list(enumerate(versions(n, 8)))
        time.sleep(2.0)
        base = edge_proc.ask("sample")
        edge_proc.ask("snapshot")
        if args.census:
            edge_proc.ask("census 0")
        print(f"edge baseline RSS {base['rss'] / 2**20:.1f} MiB")
        done = 0
        for target in args.steps:
            got = gen.connect(
                f"ws://127.0.0.1:{port}/ocpp", "M-", specs_all[done:target], args.pace
            )
            done = target
            time.sleep(3.0)
            now = edge_proc.ask("sample")
            per = (now["rss"] - base["rss"]) / max(now["sessions"], 1) / 1024
            print(f"{target} chargers ({got['failed']} failed; edge holds {now['sessions']}):"
                  f" edge RSS {now['rss'] / 2**20:.1f} MiB, {per:.1f} KiB per charger")  # fmt: skip
        if args.census:
            print("\n".join(edge_proc.ask(f"census {max(args.steps)}")["census"]))
        if args.tracemalloc:
            print("top growth (tracemalloc):")
            print("\n".join(edge_proc.ask("growth")["growth"]))
        if args.storm:
            gen.arm_reconnect()
            killed = time.monotonic()
            edge_proc.kill()
            edge_proc = Edge(settings, False)
            wait_for_port(port, timeout_s=30)
            ready_at = time.monotonic()
            spy = None
            if args.profile:
                spy = subprocess.Popen(
                    [str(Path(sys.executable).parent / "py-spy"), "record", "-r", "100", "-d",
                     "20", "-f", "raw", "-o", args.profile, "-p", str(edge_proc.proc.pid)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            deadline = ready_at + 300
            while True:
                state = gen.booted()
                booted = sorted(t for t in state["booted_at"] if t > killed)
                if len(booted) >= n or time.monotonic() > deadline:
                    break
                time.sleep(0.25)
            half = booted[len(booted) // 2] - ready_at if booted else None
            last = booted[-1] - ready_at if len(booted) >= n else None
            print(f"storm: edge restarted in {ready_at - killed:.1f} s; {len(booted)}/{n} booted;"
                  f" half after {half:.1f} s, all after {last} s from the new edge ready;"
                  f" {state['refusals']} refusals, failures {state['failures'][:2]}")  # fmt: skip
            gen.disarm()
            if spy is not None:
                spy.wait()
    finally:
        if gen is not None:
            gen.stop()
        if edge_proc is not None and edge_proc.proc.is_alive():
            edge_proc.kill()
        for child in multiprocessing.active_children():
            child.kill()
        pg.stop()
        nats_server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
