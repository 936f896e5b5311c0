"""Example: consume Switchyard's canonical events with a durable JetStream consumer.

Copy this file. It needs only `nats-py` (and `sy-events` if you want typed models; without it,
json.loads gives you the same documents, described by docs/schemas/*.json).

    python subscriber.py --nats nats://127.0.0.1:4222 --name billing \
        --types transaction_started transaction_ended
    python subscriber.py --name field-ops --types wave_transition   # migration waves

The consumer is durable: stop and restart it and it continues where it stopped. Acknowledge an
event only once you have processed it; an unacknowledged event is redelivered after ack_wait.
Events carry `event_id` (stable across redeliveries and replays): use it to de-duplicate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

STREAM = "SY_EVENTS"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--name", default="example-subscriber", help="durable consumer name")
    parser.add_argument("--types", nargs="*", default=[], help="event types (default: all)")
    args = parser.parse_args()

    nc = await nats.connect(args.nats)
    js = nc.jetstream()
    subjects = [f"sy.events.{t}.*" for t in args.types] or ["sy.events.>"]
    await js.add_consumer(
        STREAM,
        ConsumerConfig(
            durable_name=args.name,
            deliver_policy=DeliverPolicy.ALL,  # or BY_START_TIME with opt_start_time
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=60,
            filter_subjects=subjects,
        ),
    )
    sub = await js.pull_subscribe_bind(durable=args.name, stream=STREAM)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)
    while not stop.is_set():
        try:
            msgs = await sub.fetch(100, timeout=1)
        except nats.errors.TimeoutError:
            continue
        for msg in msgs:
            event = json.loads(msg.data)
            if event.get("schema_version") != 1:
                print(f"skipping {event.get('type')} v{event.get('schema_version')}")
            else:
                print(event["ts"], event["type"], event.get("charger_id"), msg.data.decode())
            await msg.ack()
    await nc.close()


if __name__ == "__main__":
    asyncio.run(main())
