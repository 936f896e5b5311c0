"""What a charger CALL pays on its way through a service at low load, in this process.

At 50 CALLs/s each CALL runs alone, every ~20-30 ms, with caches that other work has evicted in
between: a step that costs 1-2 µs in a tight loop costs tens of µs then. So each figure is
measured twice: `hot` (µs per operation in a tight loop) and `paced` (one operation every
`--pace-ms`, the median of `--paced` samples: what a CALL at low load pays).

* capture: queueing a captured frame on `FramePublisher.capture` (not started: only the
  queueing is timed), as before (a `FrameRecord` built and encoded to JSON at capture), with the
  record built at capture (encoded later by the worker), and with its fields as a tuple (record
  and JSON made by the worker, now).
* lane start: from `Lane.submit` on an idle lane to the handler's first line, with the lane's
  task started by `asyncio.create_task` (runs on the next turn of the loop, before) and started
  eagerly (`eager=True`: runs inside `submit`, now). Measured with uvloop, as the services run.

The variants run interleaved, so drift and noise hit each alike.

    uv run python bench/micro/call_path.py [--pace-ms 25] [--paced 200] [--n 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import time
from collections.abc import Callable

import uvloop
from nats.aio.client import Client

from sy_bus import FrameDirection, FrameRecord, Header, subjects
from sy_bus.publisher import FrameFields, FramePublisher
from sy_calls import Lane

TEXT = '[2,"4b7b0bd2-6c8f-4a40-9e3e-6f2a6e4b1c11","Heartbeat",{}]'


def _fields() -> FrameFields:
    return (
        "CP-000001",
        FrameDirection.FROM_CHARGER,
        time.time_ns(),
        "ocpp1.6",
        TEXT,
        2,
        "4b7b0bd2-6c8f-4a40-9e3e-6f2a6e4b1c11",
        "Heartbeat",
        None,
        "edge-0",
        "c0ffee0123456789c0ffee0123456789",
        None,
        [],
    )


def capture_variants(publisher: FramePublisher) -> dict[str, Callable[[], None]]:
    seq = itertools.count(1)

    def encoded_at_capture() -> None:
        # What capture() did at once before: the record, its subject, its JSON, its dedup id.
        record = FrameRecord(*_fields())
        frame = (
            subjects.frames(record.charger_id, record.direction),
            record.to_bytes(),
            {Header.DEDUP: f"bench-0123abcd-{next(seq)}"},
        )
        publisher._queue.append(frame)  # type: ignore[arg-type]

    def record_at_capture() -> None:
        publisher.capture(FrameRecord(*_fields()))

    def fields_at_capture() -> None:
        publisher.capture(_fields())

    return {
        "capture: record + JSON (before)": encoded_at_capture,
        "capture: record": record_at_capture,
        "capture: fields tuple (now)": fields_at_capture,
    }


async def lane_start(eager: bool) -> float:
    """µs from `submit` to the handler's first line, on an idle lane."""
    started: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def handle(_: int) -> None:
        started.set_result(time.perf_counter_ns())

    lane: Lane[int] = Lane("bench", handle, eager=eager)
    t0 = time.perf_counter_ns()
    lane.submit(1)
    first_line = await started
    await lane.close()
    return (first_line - t0) / 1000


async def main(args: argparse.Namespace) -> None:
    publisher = FramePublisher(Client(), "bench")  # never started: capture only queues
    captures = capture_variants(publisher)
    hot: dict[str, list[float]] = {name: [] for name in captures}
    for _ in range(3):
        for name, op in captures.items():
            publisher._queue.clear()
            t0 = time.perf_counter_ns()
            for _ in range(args.n):
                op()
            hot[name].append((time.perf_counter_ns() - t0) / args.n / 1000)
    publisher._queue.clear()
    for eager in (False, True):
        samples = [await lane_start(eager) for _ in range(2000)]
        hot[f"lane start: eager={eager}"] = [statistics.median(samples)]

    paced: dict[str, list[float]] = {name: [] for name in hot}
    pace = args.pace_ms / 1000
    for _ in range(args.paced):
        for name, op in captures.items():
            await asyncio.sleep(pace)
            t0 = time.perf_counter_ns()
            op()
            paced[name].append((time.perf_counter_ns() - t0) / 1000)
        for eager in (False, True):
            await asyncio.sleep(pace)
            paced[f"lane start: eager={eager}"].append(await lane_start(eager))
        publisher._queue.clear()

    print(f"{'µs per operation':36s} {'hot':>8s} {'paced p50':>10s} {'paced p90':>10s}")
    for name in hot:
        ps = sorted(paced[name])
        print(
            f"{name:36s} {min(hot[name]):8.2f} {statistics.median(ps):10.1f}"
            f" {ps[int(len(ps) * 0.9)]:10.1f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pace-ms", type=float, default=25.0)
    parser.add_argument("--paced", type=int, default=200)
    parser.add_argument("--n", type=int, default=20000)
    uvloop.run(main(parser.parse_args()))
