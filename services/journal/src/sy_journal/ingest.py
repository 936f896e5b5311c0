"""SY_FRAMES -> journal.frames: a durable pull consumer, one transaction per batch.

A batch is acknowledged only after its transaction commits, so a frame JetStream acknowledged to
its producer is never lost (invariant 4); a crash between commit and ack means a redelivery, which
the unique stream sequence turns into a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from sy_bus import streams, subjects
from sy_calls import stop_task
from sy_journal.metrics import FRAMES_STORED, INGEST_ERRORS, LAG
from sy_journal.settings import JournalSettings
from sy_journal.store import Row, Unstorable, frame_row, store_frames
from sy_platform import Runtime

log = logging.getLogger(__name__)

# Far above the time one batch takes to commit, so a healthy journal never sees redeliveries.
ACK_WAIT_S = 30.0
LAG_EVERY_S = 2.0
BACKOFF_FIRST_S = 0.2
BACKOFF_MAX_S = 5.0


def consumer_config(settings: JournalSettings) -> ConsumerConfig:
    return ConsumerConfig(
        name=settings.consumer_name,
        durable_name=settings.consumer_name,
        description="Switchyard journal: stores every frame in Postgres",
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ACK_WAIT_S,
        # Room for a full batch in flight plus the previous one's late acks.
        max_ack_pending=settings.batch_size * 4,
        filter_subject=subjects.FRAMES_ALL,
    )


class FrameIngest:
    def __init__(self, rt: Runtime, settings: JournalSettings) -> None:
        self._rt = rt
        self._settings = settings
        self._stopping = asyncio.Event()
        self._sub: JetStreamContext.PullSubscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._lag_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # Create-or-update: a changed batch size reaches an existing durable consumer.
        await self._rt.js.add_consumer(streams.FRAMES.name, consumer_config(self._settings))
        self._sub = await self._rt.js.pull_subscribe_bind(
            durable=self._settings.consumer_name, stream=streams.FRAMES.name
        )
        log.info(
            "consuming %s as durable consumer %r",
            streams.FRAMES.name,
            self._settings.consumer_name,
        )
        self._task = asyncio.create_task(self._run(), name="journal-ingest")
        self._lag_task = asyncio.create_task(self._watch_lag(), name="journal-lag")

    async def stop(self) -> None:
        """Let the in-flight batch commit and ack, then stop; a stuck batch is redelivered."""
        self._stopping.set()
        await stop_task(self._lag_task)
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=self._settings.fetch_timeout_s + 10)
            except TimeoutError:
                log.warning("ingest did not stop in time; its unacked batch will be redelivered")
            except Exception:
                log.exception("ingest had already failed")
        if self._sub is not None:
            with contextlib.suppress(Exception):  # the connection may already be closing
                await self._sub.unsubscribe()

    async def check(self) -> None:
        """Readiness: the consumer loop is running."""
        if self._task is None:
            raise RuntimeError("not started")
        if self._task.done():
            exc = None if self._task.cancelled() else self._task.exception()
            raise RuntimeError(f"ingest stopped: {exc!r}" if exc else "ingest stopped")

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake at once on shutdown."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _run(self) -> None:
        assert self._sub is not None
        delay = BACKOFF_FIRST_S
        while not self._stopping.is_set():
            try:
                msgs = await self._sub.fetch(
                    self._settings.batch_size, timeout=self._settings.fetch_timeout_s
                )
            except nats.errors.TimeoutError:
                continue  # nothing new on the stream
            except Exception as exc:
                INGEST_ERRORS.labels(kind="fetch").inc()
                log.warning("fetch from %s failed, retrying: %r", streams.FRAMES.name, exc)
                await self._pause(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
                continue
            delay = BACKOFF_FIRST_S
            # Fetched messages are handled even when stopping: this is the in-flight batch.
            await self._ingest(msgs)

    async def _ingest(self, msgs: list[Msg]) -> None:
        rows: list[Row] = []
        stored: list[Msg] = []
        for msg in msgs:
            seq = msg.metadata.sequence.stream
            try:
                rows.append(frame_row(seq, msg.data))
                stored.append(msg)
            except Unstorable as exc:
                INGEST_ERRORS.labels(kind="decode").inc()
                log.error("frame %d on %s cannot be stored, dropped: %s", seq, msg.subject, exc)
                await _settle(msg, term=True)
        if not await self._store(rows):
            return  # stopping with the batch uncommitted: unacked, so it is redelivered
        for msg in stored:
            await _settle(msg, term=False)

    async def _store(self, rows: list[Row]) -> bool:
        """Write the batch, retrying database errors until it commits or the service stops."""
        delay = BACKOFF_FIRST_S
        while True:
            try:
                FRAMES_STORED.inc(await store_frames(self._rt.sessions, rows))
                return True
            except Exception as exc:
                INGEST_ERRORS.labels(kind="database").inc()
                log.error("storing %d frames failed, retrying in %.1fs: %r", len(rows), delay, exc)
            if self._stopping.is_set():
                return False
            await self._pause(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)

    async def _watch_lag(self) -> None:
        assert self._sub is not None
        # Ends on the stop flag, not on cancellation alone: nats-py may turn a cancellation that
        # lands inside a request into another exception, which the handler below would swallow.
        while not self._stopping.is_set():
            try:
                info = await self._sub.consumer_info()
                LAG.set(info.num_pending or 0)
            except Exception as exc:  # a gauge going stale must not disturb ingest
                log.debug("consumer info failed: %r", exc)
            await self._pause(LAG_EVERY_S)


async def _settle(msg: Msg, *, term: bool) -> None:
    try:
        await (msg.term() if term else msg.ack())
    except Exception as exc:
        # A lost ack only means a redelivery, which the unique stream sequence makes harmless.
        log.warning("could not %s frame on %s: %r", "term" if term else "ack", msg.subject, exc)
