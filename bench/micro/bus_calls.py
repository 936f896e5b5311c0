"""What the bus costs the edge per CALL, in this process's CPU: frame capture and request/reply.

Starts an embedded nats-server (JetStream, streams provisioned) and an echo responder in a child
process (its CPU is not counted), then measures, in rounds that alternate old and new so that
drift and noise hit both alike, the CPU time of this process (`time.process_time`) per unit:

* frames: µs per captured frame, from `capture()` to the stream's ack, for the previous
  `FramePublisher` (kept below as `LegacyFramePublisher`: `publish_async` per frame) and the
  current one. `burst`: every frame captured at once; `paced`: two frames per 2 ms tick, about the
  edge's rate at 470 CALLs/s (the pacing loop's own CPU, measured alone, is subtracted); and the
  current one without its linger (`LINGER_S=0`: a publish and a write per wake-up).
* requests: µs per round trip to the echo responder, one at a time (`serial`) and
  `--concurrency` at a time (`concurrent`): nats-py `Client.request`, `sy_bus.requests.Requests`,
  and the edge's `UpstreamCalls.request`, previous (`LegacyUpstreamCalls`) and current.

Prints the median of the rounds and the spread (min-max).

    uv run python bench/micro/bus_calls.py [--frames 20000] [--requests 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from sy_bus import FrameDirection, FrameRecord, Header, streams, subjects
from sy_bus import publisher as publisher_module
from sy_bus.publisher import FramePublisher
from sy_bus.requests import Requests
from sy_bus.shards import ShardMap
from sy_calls import stop_task
from sy_edge.upstream import UpstreamCalls

ECHO_SUBJECTS = ("bench.echo", f"{subjects.PREFIX}.up.>")
PACE_S = 0.002  # one tick: a CALL's two captures on one service, at ~500 CALLs/s

# -- the previous implementations, verbatim but for names ------------------------------------


class LegacyFramePublisher:
    """`sy_bus.publisher.FramePublisher` before 2026-11: `publish_async` per frame, in batches."""

    BATCH = 512
    ACK_TIMEOUT_S = 5.0

    def __init__(self, js: JetStreamContext, instance: str, max_queue: int = 200_000) -> None:
        self._js = js
        self._instance = instance
        self._queue: asyncio.Queue[tuple[str, str, bytes]] = asyncio.Queue(maxsize=max_queue)
        self._seq = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        self.overflowed = 0

    def capture(self, record: FrameRecord) -> None:
        dedup = f"{self._instance}-{next(self._seq)}"
        try:
            self._queue.put_nowait(
                (dedup, subjects.frames(record.charger_id, record.direction), record.to_bytes())
            )
        except asyncio.QueueFull:
            self.overflowed += 1

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="frame-publisher")

    async def stop(self, drain_timeout_s: float = 5.0) -> None:
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout=drain_timeout_s)
        await stop_task(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            while len(batch) < self.BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._publish_batch(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _publish_batch(self, batch: list[tuple[str, str, bytes]]) -> None:
        pending = batch
        delay = 0.1
        while pending:
            futures = []
            for dedup, subject, data in pending:
                fut = await self._js.publish_async(subject, data, headers={Header.DEDUP: dedup})
                futures.append(fut)
            done, _ = (
                await asyncio.wait(futures, timeout=self.ACK_TIMEOUT_S)
                if futures
                else (set(), set())
            )
            failed = [
                item
                for item, fut in zip(pending, futures, strict=True)
                if fut not in done or fut.cancelled() or fut.exception() is not None
            ]
            for fut in futures:
                if not fut.done():
                    fut.cancel()
            self.published += len(pending) - len(failed)
            if failed:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            pending = failed


class LegacyUpstreamCalls:
    """`sy_edge.upstream.UpstreamCalls` before 2026-11: `Client.request` in a task per CALL,
    `asyncio.wait` on it and the shard's "moved" signal."""

    def __init__(self, nc: Client, shards_kv: KeyValue) -> None:
        self._nc = nc
        self.map = ShardMap(shards_kv, self._owner_changed)
        self._moved: dict[int, asyncio.Future[str]] = {}

    async def start(self) -> None:
        await self.map.start()

    async def stop(self) -> None:
        await self.map.stop()
        for signal in self._moved.values():
            signal.cancel()
        self._moved.clear()

    def _owner_changed(self, shard: int, previous: str, owner: str) -> None:
        if not previous or not owner:
            return
        signal = self._moved.pop(shard, None)
        if signal is not None and not signal.done():
            signal.set_result(previous)

    def _holder(self, shard: int) -> str:
        lease = self.map.leases.get(shard)
        return lease.owner if lease is not None else ""

    def _moved_signal(self, shard: int) -> asyncio.Future[str]:
        signal = self._moved.get(shard)
        if signal is None or signal.done():
            signal = self._moved[shard] = asyncio.get_running_loop().create_future()
        return signal

    async def request(
        self, charger_id: str, data: bytes, headers: dict[str, str], timeout_s: float
    ) -> bytes:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        subject = subjects.up(charger_id)
        shard = subjects.shard_of(charger_id)
        pause = 0.05
        unserved = False
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise NoRespondersError if unserved else NatsTimeout
            sent_to = self._holder(shard)
            answer = asyncio.ensure_future(
                self._nc.request(subject, data, timeout=remaining, headers=headers)
            )
            while not answer.done():
                moved = self._moved_signal(shard)
                await asyncio.wait((answer, moved), return_when=asyncio.FIRST_COMPLETED)
                if answer.done() or moved.result() != sent_to:
                    continue
                answer.cancel()
                await asyncio.gather(answer, return_exceptions=True)
                break
            if answer.cancelled():
                continue
            try:
                return answer.result().data
            except NoRespondersError:
                unserved = True
                await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))
                pause = min(pause * 2, 0.5)


# -- the echo responder (a child process) ------------------------------------------------------


def echo(url: str, ready: multiprocessing.synchronize.Event) -> None:
    async def run() -> None:
        nc = await nats.connect(url, pending_size=64 * 1024 * 1024)

        async def answer(msg: Msg) -> None:
            await nc.publish(msg.reply, msg.data)

        for subject in ECHO_SUBJECTS:
            await nc.subscribe(subject, cb=answer)
        await nc.flush()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(run())


# -- measuring -------------------------------------------------------------------------------


def records(n: int, tag: str) -> list[FrameRecord]:
    """Frames as the edge captures them: a MeterValues CALL and its answer, ~300 bytes each."""
    out = []
    ts = time.time_ns()
    hops = (FrameDirection.FROM_CHARGER, FrameDirection.TO_CHARGER)
    for i in range(n):
        cp = f"CP-{tag}-{i % 200}"
        raw = (
            f'[2,"{i}","MeterValues",{{"connectorId":1,"transactionId":7,"meterValue":[{{'
            f'"timestamp":"2026-11-21T10:00:00.000Z","sampledValue":[{{"value":"{i * 10}",'
            '"measurand":"Energy.Active.Import.Register","unit":"Wh"}]}]}]'
            if i % 2 == 0
            else f'[3,"{i - 1}",{{}}]'
        )
        out.append(
            FrameRecord(
                charger_id=cp,
                direction=hops[i % 2],
                ts_ns=ts + i,
                ocpp="ocpp1.6",
                raw=raw,
                message_type=2 if i % 2 == 0 else 3,
                message_id=str(i - i % 2),
                action="MeterValues",
                instance="edge-bench",
                connection_id="conn-1",
            )
        )
    return out


async def frames_round(
    publisher: FramePublisher | LegacyFramePublisher, batch: list[FrameRecord], paced: bool
) -> float:
    """CPU seconds from the first capture to the last ack."""
    publisher.start()
    await asyncio.sleep(0.2)  # subscriptions made, idle
    cpu = time.process_time()
    if paced:
        for i in range(0, len(batch), 2):
            publisher.capture(batch[i])
            publisher.capture(batch[i + 1])
            await asyncio.sleep(PACE_S)
    else:
        for record in batch:
            publisher.capture(record)
    while True:  # polled, not signalled: the same for both publishers
        if publisher.published >= len(batch):
            break
        await asyncio.sleep(0.001)
    spent = time.process_time() - cpu
    await publisher.stop()
    return spent


async def pacing_only(n: int) -> float:
    cpu = time.process_time()
    for _ in range(0, n, 2):
        await asyncio.sleep(PACE_S)
    return time.process_time() - cpu


async def requests_round(call: Callable[[], Awaitable[object]], n: int, concurrency: int) -> float:
    async def worker(count: int) -> None:
        for _ in range(count):
            await call()

    cpu = time.process_time()
    await asyncio.gather(*(worker(n // concurrency) for _ in range(concurrency)))
    return time.process_time() - cpu


def report(name: str, per_unit_us: dict[str, list[float]]) -> None:
    print(name)
    for label, values in per_unit_us.items():
        print(
            f"  {label:<34} {statistics.median(values):7.1f} µs"
            f"   ({min(values):.1f}-{max(values):.1f}, {len(values)} rounds)"
        )


async def bench(url: str, n_frames: int, n_requests: int, rounds: int, concurrency: int) -> None:
    nc = await nats.connect(url, pending_size=64 * 1024 * 1024)
    js = nc.jetstream()
    await streams.provision(js)
    kv = await js.key_value(streams.SHARDS.name)

    for paced in (False, True):
        n = n_frames // 4 if paced else n_frames
        baseline = [await pacing_only(n) for _ in range(2)] if paced else [0.0]
        loop_cpu = min(baseline)
        makers: dict[str, Callable[[], FramePublisher | LegacyFramePublisher]] = {
            "old (publish_async)": lambda: LegacyFramePublisher(js, "edge-bench"),
            "new (core publish)": lambda: FramePublisher(js, "edge-bench"),
        }
        if paced:  # what the linger does, apart from the rest
            makers["new, LINGER_S=0"] = lambda: FramePublisher(js, "edge-bench")
        results: dict[str, list[float]] = {label: [] for label in makers}
        for r in range(rounds):
            for label, make in makers.items():
                linger = publisher_module.LINGER_S
                if label.endswith("LINGER_S=0"):
                    publisher_module.LINGER_S = 0.0
                try:
                    batch = records(n, f"{r}{label[:3]}")
                    spent = await frames_round(make(), batch, paced) - loop_cpu
                finally:
                    publisher_module.LINGER_S = linger
                results[label].append(spent / n * 1e6)
        mode = f"paced, 2 frames per {PACE_S * 1000:g} ms" if paced else "burst"
        report(f"frames: CPU per captured frame ({n} frames per round, {mode})", results)

    requests = Requests(nc)
    await requests.start()
    legacy = LegacyUpstreamCalls(nc, kv)
    await legacy.start()
    upstream = UpstreamCalls(nc, kv)
    await upstream.start()
    data = b'[2,"1","Heartbeat",{}]'
    headers = {Header.CHARGER: "CP-1", Header.MESSAGE_ID: "1", Header.ACTION: "Heartbeat"}
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "nc.request": lambda: nc.request("bench.echo", data, timeout=5, headers=headers),
        "Requests.request": lambda: requests.request("bench.echo", data, 5, headers),
        "UpstreamCalls.request old": lambda: legacy.request("CP-1", data, headers, 5),
        "UpstreamCalls.request new": lambda: upstream.request("CP-1", data, headers, 5),
    }
    for call in calls.values():  # warm up: subscriptions, first-use paths
        await call()
    for width in (1, concurrency):
        n = n_requests if width > 1 else n_requests // 2
        results = {label: [] for label in calls}
        for _ in range(rounds):
            for label, call in calls.items():
                results[label].append(await requests_round(call, n, width) / n * 1e6)
        mode = "serial" if width == 1 else f"concurrent, {width} at a time"
        title = f"requests: CPU per round trip to an echo responder ({n} per round, {mode})"
        report(title, results)

    await upstream.stop()
    await legacy.stop()
    await requests.stop()
    await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--nats-url", help="use this NATS (JetStream) instead of an embedded one")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from sy_devkit.embedded_nats import EmbeddedNats

    with tempfile.TemporaryDirectory(prefix="bus-calls-") as tmp:
        server = None
        url = args.nats_url
        if url is None:
            server = EmbeddedNats(Path(tmp) / "nats", locked=False).start()
            url = server.url
        ready = multiprocessing.get_context("spawn").Event()
        child = multiprocessing.get_context("spawn").Process(
            target=echo, args=(url, ready), daemon=True
        )
        child.start()
        try:
            if not ready.wait(30):
                sys.exit("the echo responder did not start")
            asyncio.run(bench(url, args.frames, args.requests, args.rounds, args.concurrency))
        finally:
            child.terminate()
            child.join(5)
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
