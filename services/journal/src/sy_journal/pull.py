"""A durable JetStream pull consumer loop: fetch, hand the batch over, back off on errors, stop
cleanly. The batch handler acknowledges; the loop only decides when to fetch."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig

from sy_calls import stop_task
from sy_journal.metrics import INGEST_ERRORS

log = logging.getLogger(__name__)

BACKOFF_FIRST_S = 0.2
BACKOFF_MAX_S = 5.0


class PullLoop:
    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        config: ConsumerConfig,
        handle: Callable[[list[Msg]], Awaitable[None]],
        *,
        batch: int,
        fetch_timeout_s: float,
        stopping: asyncio.Event,
    ) -> None:
        self._js = js
        self._stream = stream
        self._config = config
        self._handle = handle
        self._batch = batch
        self._fetch_timeout_s = fetch_timeout_s
        self._stopping = stopping
        self.sub: JetStreamContext.PullSubscription | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self._config.durable_name or ""

    async def start(self) -> None:
        # Create-or-update: a changed batch size reaches an existing durable consumer.
        await self._js.add_consumer(self._stream, self._config)
        self.sub = await self._js.pull_subscribe_bind(durable=self.name, stream=self._stream)
        log.info("consuming %s as durable consumer %r", self._stream, self.name)
        self._task = asyncio.create_task(self._run(), name=f"journal-{self.name}")

    async def stop(self, timeout_s: float) -> None:
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=timeout_s)
            except TimeoutError:
                log.warning("%s did not stop in time; its unacked batch is redelivered", self.name)
                await stop_task(self._task)
            except Exception:
                log.exception("%s had already failed", self.name)
        if self.sub is not None:
            with contextlib.suppress(Exception):  # the connection may already be closing
                await self.sub.unsubscribe()

    def check(self) -> None:
        if self._task is None:
            raise RuntimeError("not started")
        if self._task.done():
            exc = None if self._task.cancelled() else self._task.exception()
            raise RuntimeError(f"ingest stopped: {exc!r}" if exc else "ingest stopped")

    async def pause(self, seconds: float) -> None:
        """Sleep, but wake at once on shutdown."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _run(self) -> None:
        assert self.sub is not None
        delay = BACKOFF_FIRST_S
        while not self._stopping.is_set():
            try:
                msgs = await self.sub.fetch(self._batch, timeout=self._fetch_timeout_s)
            except (nats.errors.TimeoutError, TimeoutError):
                continue  # nothing new on the stream (nats-py raises either)
            except Exception as exc:
                INGEST_ERRORS.labels(kind="fetch").inc()
                log.warning("fetch from %s failed, retrying: %r", self._stream, exc)
                await self.pause(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
                continue
            delay = BACKOFF_FIRST_S
            # Fetched messages are handled even when stopping: this is the in-flight batch.
            await self._handle(msgs)


def stream_sequence(msg: Msg) -> int:
    """A delivered message's stream sequence, read from its ack subject
    (`$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>`).
    nats-py's `msg.metadata` builds two dataclasses and a datetime for it: a tenth of the
    journal's CPU. Any other form of ack subject goes through nats-py."""
    reply = msg.reply
    if reply.startswith("$JS.ACK."):
        tokens = reply.split(".")
        if len(tokens) == 9:
            return int(tokens[5])
    return msg.metadata.sequence.stream


async def settle(msg: Msg, *, term: bool) -> None:
    try:
        await (msg.term() if term else msg.ack())
    except Exception as exc:
        # A lost ack only means a redelivery, which the unique keys make harmless.
        log.warning("could not %s message on %s: %r", "term" if term else "ack", msg.subject, exc)
