"""CPU per message of a durable pull consumer: nats-py's `PullSubscription.fetch` against the
journal's `Fetcher` (`sy_journal.pull`), both acknowledging every message.

Publishes N messages of frame size to a stream on an embedded nats-server, then drains a fresh
durable consumer with each, alternately, in batches of 500 (the journal's default), printing
this process's CPU per message and the server's.

    uv run python bench/micro/pull_fetch.py [--messages 40000] [--rounds 2] [--loop asyncio]

The services run on uvloop (uvicorn picks it when installed), so that is the default here.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import nats
import psutil
import uvloop
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from sy_devkit.embedded_nats import EmbeddedNats
from sy_journal.pull import Fetcher

BATCH = 500
STREAM = "BENCH_PULL"


async def _drain_nats_py(nc: Client, consumer: str, n: int) -> None:
    sub = await nc.jetstream().pull_subscribe_bind(durable=consumer, stream=STREAM)
    got = 0
    while got < n:
        msgs: list[Msg] = await sub.fetch(BATCH, timeout=2)
        got += len(msgs)
        for msg in msgs:
            await msg.ack()
    await sub.unsubscribe()


async def _drain_fetcher(nc: Client, consumer: str, n: int) -> None:
    fetcher = Fetcher(nc, STREAM, consumer)
    await fetcher.start()
    got = 0
    while got < n:
        msgs = await fetcher.fetch(BATCH, 2.0)
        got += len(msgs)
        for msg in msgs:
            await msg.ack()
    await fetcher.stop()


async def main(messages: int, rounds: int) -> None:
    server = EmbeddedNats(Path(tempfile.mkdtemp()), locked=False).start()
    try:
        nats_process = psutil.Process(server.pid)
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=STREAM, subjects=[f"{STREAM}.>"]))
        payload = b"x" * 400
        for _ in range(0, messages, 1000):
            await asyncio.gather(*(js.publish(f"{STREAM}.frame", payload) for _ in range(1000)))
        print(f"{messages:,} messages of {len(payload)} bytes, batches of {BATCH}, every one acked")
        print(f"{'consumer':10s} {'client CPU/msg':>15s} {'server CPU/msg':>15s} {'wall':>7s}")
        for _ in range(rounds):
            for label, drain in (("nats-py", _drain_nats_py), ("Fetcher", _drain_fetcher)):
                consumer = f"bench-{uuid.uuid4().hex[:8]}"
                config = ConsumerConfig(
                    durable_name=consumer, ack_policy=AckPolicy.EXPLICIT, max_ack_pending=BATCH * 4
                )
                await js.add_consumer(STREAM, config)
                server_before = sum(nats_process.cpu_times()[:2])
                cpu_before, wall_before = time.process_time(), time.perf_counter()
                await drain(nc, consumer, messages)
                await nc.flush()
                client_us = (time.process_time() - cpu_before) / messages * 1e6
                wall = time.perf_counter() - wall_before
                server_us = (sum(nats_process.cpu_times()[:2]) - server_before) / messages * 1e6
                print(f"{label:10s} {client_us:12.1f} µs {server_us:12.1f} µs {wall:6.2f}s")
                await js.delete_consumer(STREAM, consumer)
        await nc.close()
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = parser.parse_args()
    if args.loop == "uvloop":
        uvloop.run(main(args.messages, args.rounds))
    else:
        asyncio.run(main(args.messages, args.rounds))
