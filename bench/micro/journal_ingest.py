"""How fast the journal stores frames, and what its CPU goes to per frame.

Publishes N captured frames to SY_FRAMES the way the edge and connectors do (four hops per CALL:
Heartbeat, StatusNotification, MeterValues, both versions), then starts the journal app in a child
process and measures, from its app being ready to every frame stored: wall time, the child's CPU
time, and per-frame figures. `--decode-only` times just the per-frame decode in this process.

    uv run python bench/micro/journal_ingest.py [--frames 20000] [--profile out.txt]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import queue
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nats

from sy_bus import FrameDirection, FrameRecord, Header, streams, subjects

HOPS = (
    FrameDirection.FROM_CHARGER,
    FrameDirection.TO_BACKEND,
    FrameDirection.FROM_BACKEND,
    FrameDirection.TO_CHARGER,
)


def frames(n: int, chargers: int = 200) -> list[FrameRecord]:
    rng = random.Random(1)
    out: list[FrameRecord] = []
    ts = time.time_ns()
    i = 0
    while len(out) < n:
        cp = f"CP-{rng.randrange(chargers)}"
        ocpp = "ocpp1.6" if cp[-1] in "02468" else "ocpp2.0.1"
        i += 1
        mid = str(i)
        kind = rng.random()
        if kind < 0.55:
            action, call = "Heartbeat", f'[2,"{mid}","Heartbeat",{{}}]'
            result = f'[3,"{mid}",{{"currentTime":"2026-11-21T10:00:00.000Z"}}]'
        elif kind < 0.8:
            action = "StatusNotification"
            call = (
                f'[2,"{mid}","StatusNotification",{{"connectorId":1,"errorCode":"NoError",'
                '"status":"Available"}]'
            )
            result = f'[3,"{mid}",{{}}]'
        else:
            action = "MeterValues"
            call = (
                f'[2,"{mid}","MeterValues",{{"connectorId":1,"meterValue":[{{"timestamp":'
                f'"2026-11-21T10:00:00.000Z","sampledValue":[{{"value":"{i * 10}"}}]}}]}}]'
            )
            result = f'[3,"{mid}",{{}}]'
        for hop, direction in enumerate(HOPS):
            ts += 50_000
            raw = call if hop < 2 else result
            backend = None if direction in (HOPS[0], HOPS[3]) else "legacy"
            out.append(FrameRecord(cp, direction, ts, ocpp, raw, 2 if hop < 2 else 3, mid,
                                   action, backend, "edge-0", "conn-1"))  # fmt: skip
    return out[:n]


async def publish(url: str, records: list[FrameRecord]) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await streams.provision(js)
    for start in range(0, len(records), 500):
        await asyncio.gather(*(
            js.publish(subjects.frames(r.charger_id, r.direction), r.to_bytes(),
                       headers={Header.DEDUP: uuid.uuid4().hex})
            for r in records[start : start + 500]
        ))  # fmt: skip
    await nc.close()


def journal(nats_url: str, database: str, expected: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from prometheus_client import REGISTRY

    from sy_devkit.inprocess import app_client
    from sy_journal.app import build_app
    from sy_journal.settings import JournalSettings

    def stored() -> float:
        return REGISTRY.get_sample_value("sy_journal_frames_stored_total") or 0.0

    async def run() -> None:
        settings = JournalSettings(nats_url=nats_url, database_url=database,
                                   consumer_name=f"bench-{uuid.uuid4().hex[:6]}")  # fmt: skip
        async with app_client(build_app(settings)):
            cpu0, wall0, done0 = time.process_time(), time.perf_counter(), stored()
            while stored() < expected:  # noqa: ASYNC110 - polling a counter, no event to wait on
                await asyncio.sleep(0.01)
            out.put((stored() - done0, time.perf_counter() - wall0, time.process_time() - cpu0))

    asyncio.run(run())


def decode_only(records: list[FrameRecord]) -> None:
    from sy_journal.store import decode_frame, row_of

    data = [r.to_bytes() for r in records]
    for _ in range(2):
        t0 = time.perf_counter()
        for i, d in enumerate(data):
            row_of(i, decode_frame(d))
        dt = time.perf_counter() - t0
    print(f"decode_frame + row_of: {dt / len(data) * 1e6:.2f} µs per frame ({len(data)} frames)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--decode-only", action="store_true")
    parser.add_argument("--profile", help="py-spy the journal into this collapsed-stack file")
    args = parser.parse_args()
    records = frames(args.frames)
    if args.decode_only:
        decode_only(records)
        return

    from sy_devkit.embedded_nats import EmbeddedNats
    from sy_devkit.embedded_postgres import EmbeddedPostgres
    from sy_platform.migrations import upgrade

    work = Path(tempfile.mkdtemp(prefix="sy-micro-"))
    work.chmod(0o755)
    nats_server = EmbeddedNats(work / "nats", locked=False).start()
    pg = EmbeddedPostgres(work / "pg", durable=True).start()
    try:
        database = pg.create_database("journal_bench")
        upgrade("sy_journal", database)
        asyncio.run(publish(nats_server.url, records))
        ctx = multiprocessing.get_context("spawn")
        out = ctx.Queue()
        child = ctx.Process(target=journal, args=(nats_server.url, database, args.frames, out))
        child.start()
        spy = None
        if args.profile:
            spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record",
                                    "-r", "200", "-f", "raw", "-o", args.profile,
                                    "-p", str(child.pid)], stdout=subprocess.DEVNULL)  # fmt: skip
        while True:
            try:
                count, wall, cpu = out.get(timeout=1)
                break
            except queue.Empty:
                if not child.is_alive():
                    raise SystemExit(f"the journal process ended ({child.exitcode})") from None
        child.join()
        if spy:
            spy.wait()
        print(f"journal stored {count:.0f} frames (after its app was ready) in {wall:.2f} s:"
              f" {count / wall:,.0f} frames/s; journal CPU {cpu:.2f} s ="
              f" {cpu / count * 1e6:.0f} µs per frame")  # fmt: skip
    finally:
        pg.stop()
        nats_server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
