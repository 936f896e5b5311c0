"""How fast the journal stores frames, and what its CPU goes to per frame.

Publishes N captured frames to SY_FRAMES the way the edge and connectors do (four hops per CALL,
one backend), then starts the journal app in a child process (garbage collector set as `python -m
sy_journal` sets it) and measures, from its app being ready to every frame stored: wall time, the
child's CPU time and per-frame figures; then again once every derived event is published from
the outbox (which publishes while ingest goes on), with the CPU time spent in the kernel and in
the garbage collector.

Two traffic mixes, both OCPP versions half and half:

* `--mix basic` (default): Heartbeat, StatusNotification, MeterValues outside a transaction; one
  event per 16 frames, no sessions.
* `--mix fleet`: the load generator's odds (`bench/switchyard_bench/frames.py`): 55 % heartbeats,
  20 % status, 25 % whole charging sessions (Authorize, StartTransaction / TransactionEvent
  Started, 2-8 meter values, stop, status), answered as the CSMS answers. One event per two
  frames, and sessions to fold: the traffic behind the journal's profile at load.

In this process, without the journal app: `--decode-only` times the decode; `--derive-only`
decode, derive, serialise and fold sessions (best and median of 7 runs); `--store-only` also
writes each batch to Postgres as the journal does (no NATS), with Postgres's own CPU per frame.

    uv run python bench/micro/journal_ingest.py [--frames 20000] [--mix fleet] [--profile out.txt]
    uv run python bench/micro/journal_ingest.py --mix fleet --derive-only | --store-only

The machine is shared: compare runs interleaved with the other version, several times.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import multiprocessing
import os
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
import orjson

from sy_bus import FrameDirection, FrameRecord, Header, streams, subjects

HOPS = (
    FrameDirection.FROM_CHARGER,
    FrameDirection.TO_BACKEND,
    FrameDirection.FROM_BACKEND,
    FrameDirection.TO_CHARGER,
)


def frames(n: int, chargers: int = 200, mix: str = "basic") -> list[FrameRecord]:
    if mix == "fleet":
        return fleet_frames(n, chargers)
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


class _Charger:
    """One simulated charger of the fleet mix: its plan of CALLs and open transaction."""

    def __init__(self, cp: str, ocpp: str, rng: random.Random) -> None:
        self.cp, self.ocpp, self.rng = cp, ocpp, rng
        self.plan: list[str] = []
        self.meter_wh = 0
        self.tx: int | str | None = None
        self.tx_seq = 0
        self.tag = ""

    def next(self) -> str:
        if not self.plan:
            roll = self.rng.random()
            if roll < 0.55:
                self.plan = ["Heartbeat"]
            elif roll < 0.75:
                self.plan = ["Status"]
            else:
                meters = ["MeterValues"] * self.rng.randint(2, 8)
                self.tag = f"TAG-{self.rng.randrange(10**8):08d}"
                if self.ocpp == "ocpp1.6":
                    start, stop = ["StatusPreparing", "StartTransaction"], "StopTransaction"
                else:
                    start, stop = ["TransactionStarted"], "TransactionEnded"
                self.plan = ["Authorize", *start, *meters, stop, "StatusAvailable"]
        return self.plan.pop(0)


def _fleet_call(
    c: _Charger, step: str, at: str
) -> tuple[str, dict[str, object], dict[str, object]]:
    """(action, CALL payload, CSMS answer payload) of one step of a simulated charger."""
    v16 = c.ocpp == "ocpp1.6"
    accepted = {"status": "Accepted"}
    if step == "Heartbeat":
        return step, {}, {"currentTime": at}
    if step.startswith("Status"):
        status = {"StatusAvailable": "Available", "StatusPreparing": "Preparing"}.get(step)
        if v16:
            status = status or c.rng.choice(("Available", "Preparing", "SuspendedEV", "Finishing"))
            return (
                "StatusNotification",
                {"connectorId": 1, "errorCode": "NoError", "status": status, "timestamp": at},
                {},
            )
        status = status or c.rng.choice(("Available", "Occupied", "Reserved", "Unavailable"))
        return (
            "StatusNotification",
            {"timestamp": at, "connectorStatus": status, "evseId": 1, "connectorId": 1},
            {},
        )
    token = {"idToken": c.tag, "type": "ISO14443"}
    if step == "Authorize":
        if v16:
            return step, {"idTag": c.tag}, {"idTagInfo": accepted}
        return step, {"idToken": token}, {"idTokenInfo": accepted}
    if step == "StartTransaction":
        c.meter_wh += c.rng.randint(0, 50)
        c.tx = c.rng.randrange(1, 2**31)  # the CSMS's id
        return (
            step,
            {"connectorId": 1, "idTag": c.tag, "meterStart": c.meter_wh, "timestamp": at},
            {"transactionId": c.tx, "idTagInfo": accepted},
        )
    if step == "StopTransaction":
        return (
            step,
            {
                "meterStop": c.meter_wh,
                "timestamp": at,
                "reason": "Local",
                "transactionId": c.tx,
                "idTag": c.tag,
            },
            {"idTagInfo": accepted},
        )
    if step == "MeterValues" and v16:
        c.meter_wh += c.rng.randint(100, 2000)
        sample = {
            "timestamp": at,
            "sampledValue": [
                {
                    "value": str(c.meter_wh),
                    "measurand": "Energy.Active.Import.Register",
                    "unit": "Wh",
                },
                {
                    "value": f"{c.rng.uniform(3.0, 22.0):.2f}",
                    "measurand": "Power.Active.Import",
                    "unit": "kW",
                },
            ],
        }
        return step, {"connectorId": 1, "transactionId": c.tx, "meterValue": [sample]}, {}
    if step == "TransactionStarted":
        c.tx, c.tx_seq = f"{c.cp}-{c.rng.randrange(10**9):09d}", 0
        return (
            "TransactionEvent",
            {
                "eventType": "Started",
                "timestamp": at,
                "triggerReason": "Authorized",
                "seqNo": 0,
                "transactionInfo": {"transactionId": c.tx},
                "idToken": token,
                "evse": {"id": 1, "connectorId": 1},
            },
            {"idTokenInfo": accepted},
        )
    c.tx_seq += 1
    if step == "MeterValues":
        c.meter_wh += c.rng.randint(100, 2000)
        return (
            "TransactionEvent",
            {
                "eventType": "Updated",
                "timestamp": at,
                "triggerReason": "MeterValuePeriodic",
                "seqNo": c.tx_seq,
                "transactionInfo": {"transactionId": c.tx, "chargingState": "Charging"},
                "meterValue": [
                    {
                        "timestamp": at,
                        "sampledValue": [
                            {
                                "value": float(c.meter_wh),
                                "measurand": "Energy.Active.Import.Register",
                            },
                            {
                                "value": round(c.rng.uniform(3000.0, 150000.0), 1),
                                "measurand": "Power.Active.Import",
                            },
                        ],
                    }
                ],
            },
            {},
        )
    assert step == "TransactionEnded", step
    return (
        "TransactionEvent",
        {
            "eventType": "Ended",
            "timestamp": at,
            "triggerReason": "StopAuthorized",
            "seqNo": c.tx_seq,
            "transactionInfo": {"transactionId": c.tx, "stoppedReason": "Local"},
        },
        {},
    )


def fleet_frames(n: int, chargers: int = 200) -> list[FrameRecord]:
    """The `--mix fleet` traffic: each CALL on its four hops, one backend ('legacy')."""
    rng = random.Random(1)
    fleet = [_Charger(f"CP-{i}", "ocpp1.6" if i % 2 else "ocpp2.0.1", random.Random(i))
             for i in range(chargers)]  # fmt: skip
    out: list[FrameRecord] = []
    ts = time.time_ns()
    i = 0
    while len(out) < n:
        c = fleet[rng.randrange(chargers)]
        i += 1
        mid = str(i)
        at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts / 1e9)) + ".000Z"
        action, payload, answer = _fleet_call(c, c.next(), at)
        call = orjson.dumps([2, mid, action, payload]).decode()
        result = orjson.dumps([3, mid, answer]).decode()
        for hop, direction in enumerate(HOPS):
            ts += 50_000
            raw = call if hop < 2 else result
            backend = None if direction in (HOPS[0], HOPS[3]) else "legacy"
            out.append(FrameRecord(c.cp, direction, ts, c.ocpp, raw, 2 if hop < 2 else 3, mid,
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
    from prometheus_client import Counter

    from sy_devkit.inprocess import app_client
    from sy_journal.app import build_app
    from sy_journal.metrics import EVENTS_PUBLISHED, EVENTS_STORED, FRAMES_STORED
    from sy_journal.settings import JournalSettings

    def sample(counter: Counter) -> float:
        # One counter's own samples: the whole registry (process and GC collectors included)
        # cost the journal's process 5 % of its CPU when polled every 10 ms.
        [metric] = counter.collect()
        return float(next(s.value for s in metric.samples if s.name.endswith("_total")))

    def stored() -> float:
        return sample(FRAMES_STORED)

    events0 = 0.0  # events stored before the measurement

    def outbox_drained() -> bool:
        return sample(EVENTS_PUBLISHED) >= sample(EVENTS_STORED) - events0

    gc_s = [0.0, 0.0]  # time in the cyclic garbage collector, start of the current collection

    def gc_timer(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_s[1] = time.perf_counter()
        else:
            gc_s[0] += time.perf_counter() - gc_s[1]

    gc.callbacks.append(gc_timer)
    tune_gc_as_the_service_does()

    async def run() -> None:
        settings = JournalSettings(nats_url=nats_url, database_url=database,
                                   consumer_name=f"bench-{uuid.uuid4().hex[:6]}")  # fmt: skip
        async with app_client(build_app(settings)):
            nonlocal events0
            events0 = sample(EVENTS_STORED)
            gc0, sys0 = gc_s[0], os.times().system
            cpu0, wall0, done0 = time.process_time(), time.perf_counter(), stored()
            while stored() < expected:  # noqa: ASYNC110 - polling a counter, no event to wait on
                await asyncio.sleep(0.01)
            at_stored = (time.perf_counter() - wall0, time.process_time() - cpu0)
            while not outbox_drained():  # noqa: ASYNC110 - as above
                await asyncio.sleep(0.01)
            events = sample(EVENTS_STORED) - events0
            drained = (time.perf_counter() - wall0, time.process_time() - cpu0)
            system = os.times().system - sys0
            out.put((stored() - done0, events, at_stored, drained, gc_s[0] - gc0, system))

    asyncio.run(run())


def tune_gc_as_the_service_does() -> None:
    try:  # a checkout from before sy_journal.gc_tuning runs with CPython's defaults
        from sy_platform.gc_tuning import tune_gc
    except ImportError:
        return
    tune_gc()


def derive_only(records: list[FrameRecord], runs: int = 7) -> None:
    """The journal's per-frame CPU before the database: decode, derive, serialise, fold sessions
    (one `apply` per event, as a worst case; `--store-only` writes batches). Prints
    the best and the median of `runs` (the machine is shared: the best is the least disturbed)."""
    import statistics

    from sy_events import Normaliser, subject_for, to_json
    from sy_events.sessions import Session, apply, transaction_of
    from sy_journal.store import decode_frame, row_of

    data = [r.to_bytes() for r in records]
    tune_gc_as_the_service_does()
    per_frame: list[float] = []
    for _ in range(runs):
        normaliser = Normaliser()
        sessions: dict[str, Session] = {}
        events = 0
        t0 = time.process_time()
        for seq, d in enumerate(data, 1):
            record = decode_frame(d)
            row_of(seq, record)
            made = normaliser.feed(seq, record)
            events += len(made)
            for e in made:
                to_json(e)
                subject_for(e)
                gtx = transaction_of(e)
                if gtx is not None:
                    s = apply(sessions.get(gtx), e)
                    if s is not None:
                        sessions[gtx] = s
                        s.model_dump_json()  # as stored, once per event at worst
        per_frame.append((time.process_time() - t0) / len(data) * 1e6)
    print(f"decode + derive + serialise + sessions: best {min(per_frame):.1f}, median"
          f" {statistics.median(per_frame):.1f} µs per frame over {runs} runs ({len(data)} frames,"
          f" {events} events, {len(sessions)} sessions)")  # fmt: skip


def postgres_cpu(data_dir: Path) -> float:
    """CPU seconds of the Postgres server under `data_dir` and its live backends."""
    import psutil  # type: ignore[import-untyped]

    total = 0.0
    for proc in psutil.process_iter(["cmdline"]):
        if str(data_dir) in " ".join(proc.info["cmdline"] or ()):
            for p in (proc, *proc.children(recursive=True)):
                with contextlib.suppress(psutil.NoSuchProcess):
                    t = p.cpu_times()
                    total += t.user + t.system
    return total


def store_only(records: list[FrameRecord], database: str, data_dir: Path, batch: int = 500) -> None:
    """The journal's batch path in this process, without NATS: decode, sort and derive a batch
    as `FrameIngest._ingest` does, then write it as `_store` does (partitions, one transaction,
    `write_batch`); CPU and wall time of the two halves per frame."""
    from sy_events import Normaliser
    from sy_journal.db import create_pool
    from sy_journal.partitions import PARTITIONED, Partitions, day_of
    from sy_journal.store import decode_frame, row_of, write_batch

    async def run() -> None:
        pool = await create_pool(database)
        partitions, normaliser = Partitions(), Normaliser()
        data = [r.to_bytes() for r in records]
        tune_gc_as_the_service_does()
        derive_cpu = store_cpu = store_wall = 0.0
        events_n = 0
        pg0 = postgres_cpu(data_dir)
        for start in range(0, len(data), batch):
            t0 = time.process_time()
            decoded = [(start + i + 1, decode_frame(d)) for i, d in enumerate(data[start:][:batch])]
            decoded.sort(key=lambda item: (item[1].ts_ns, item[0]))
            rows = [row_of(seq, r) for seq, r in decoded]
            days = {r["ts"].date() for r in rows}
            events = [e for seq, r in decoded for e in normaliser.feed(seq, r)]
            events_n += len(events)
            t1, w1 = time.process_time(), time.perf_counter()
            days |= {day_of(e.ts) for e in events}
            async with pool.acquire() as conn:
                await partitions.ensure(conn, PARTITIONED, days)
                async with conn.transaction():
                    await write_batch(conn, rows, events)
            store_cpu += time.process_time() - t1
            store_wall += time.perf_counter() - w1
            derive_cpu += t1 - t0
        pg_cpu = postgres_cpu(data_dir) - pg0
        await pool.close()
        n = len(data)
        print(f"decode + derive {derive_cpu / n * 1e6:.1f} µs per frame; store CPU"
              f" {store_cpu / n * 1e6:.1f} µs per frame, wall {store_wall / n * 1e6:.1f} µs per"
              f" frame; Postgres CPU {pg_cpu / n * 1e6:.1f} µs per frame ({n} frames,"
              f" {events_n} events)")  # fmt: skip

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
    parser.add_argument("--mix", choices=("basic", "fleet"), default="basic")
    parser.add_argument("--decode-only", action="store_true")
    parser.add_argument("--derive-only", action="store_true")
    parser.add_argument("--store-only", action="store_true")
    parser.add_argument("--profile", help="py-spy the journal into this collapsed-stack file")
    args = parser.parse_args()
    records = frames(args.frames, mix=args.mix)
    if args.decode_only:
        decode_only(records)
        return
    if args.derive_only:
        derive_only(records)
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
        if args.store_only:
            store_only(records, database, work / "pg")
            return
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
                count, events, (wall, cpu), (wall2, cpu2), gc_time, system = out.get(timeout=1)
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
        print(f"  ... and published its {events:.0f} events in {wall2:.2f} s: journal CPU"
              f" {cpu2:.2f} s = {cpu2 / count * 1e6:.0f} µs per frame (kernel {system:.2f} s,"
              f" collecting garbage {gc_time:.2f} s)")  # fmt: skip
    finally:
        pg.stop()
        nats_server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
