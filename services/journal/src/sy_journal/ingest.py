"""SY_FRAMES -> journal: frames, canonical events, status history and sessions, one transaction
per batch; plus the events other services publish on SY_EVENTS.

A batch is acknowledged only after its transaction commits, so a frame JetStream acknowledged to
its producer is never lost (invariant 4); a crash between commit and ack means a redelivery, which
the unique stream sequence and event ids turn into a no-op. Derived events go to the outbox in the
same transaction and are published to SY_EVENTS after the commit (`outbox.py`).

The normaliser keeps per-charger state in memory (open exchanges, transaction ids), so one
replica owns one consumer name. After a restart it looks up the open 1.6 transactions it needs
in journal.sessions.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date

import asyncpg  # type: ignore[import-untyped]
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from sy_bus import FrameRecord, streams, subjects
from sy_calls import stop_task
from sy_events import EventBase, Normaliser, parse_event
from sy_events.subjects import of_type
from sy_journal.metrics import ACK_PENDING, EVENTS_STORED, FRAMES_STORED, INGEST_ERRORS, LAG
from sy_journal.outbox import OutboxPublisher
from sy_journal.partitions import PARTITIONED, Partitions, day_of
from sy_journal.pull import BACKOFF_FIRST_S, BACKOFF_MAX_S, PullLoop, settle, stream_sequence
from sy_journal.settings import JournalSettings
from sy_journal.store import Row, Unstorable, decode_frame, known_transactions, row_of, write_batch
from sy_platform import Runtime

log = logging.getLogger(__name__)

# Far above the time one batch takes to commit, so a healthy journal never sees redeliveries.
ACK_WAIT_S = 30.0
LAG_EVERY_S = 2.0
# Events that other services publish and the journal stores (it derives the others itself).
CONSUMED_EVENT_TYPES = (
    "charger_connected",
    "charger_disconnected",
    "route_changed",
    "shadow_divergence",
)


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


def events_consumer_config(settings: JournalSettings) -> ConsumerConfig:
    name = f"{settings.consumer_name}-events"
    return ConsumerConfig(
        name=name,
        durable_name=name,
        description="Switchyard journal: stores events other services publish",
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ACK_WAIT_S,
        max_ack_pending=settings.batch_size * 4,
        filter_subjects=[of_type(t) for t in CONSUMED_EVENT_TYPES],
    )


class FrameIngest:
    def __init__(
        self,
        rt: Runtime,
        settings: JournalSettings,
        pool: asyncpg.Pool,
        partitions: Partitions,
        outbox: OutboxPublisher,
    ) -> None:
        self._rt = rt
        self._settings = settings
        self._pool = pool
        self._partitions = partitions
        self._outbox = outbox
        self._normaliser = Normaliser()
        self._stopping = asyncio.Event()
        self._frames = PullLoop(
            rt.js,
            streams.FRAMES.name,
            consumer_config(settings),
            self._ingest,
            batch=settings.batch_size,
            fetch_timeout_s=settings.fetch_timeout_s,
            stopping=self._stopping,
        )
        self._events = PullLoop(
            rt.js,
            streams.EVENTS.name,
            events_consumer_config(settings),
            self._ingest_events,
            batch=settings.batch_size,
            fetch_timeout_s=settings.fetch_timeout_s,
            stopping=self._stopping,
        )
        self._lag_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._frames.start()
        await self._events.start()
        self._lag_task = asyncio.create_task(self._watch_lag(), name="journal-lag")

    async def stop(self) -> None:
        """Let the in-flight batches commit and ack, then stop; a stuck batch is redelivered."""
        self._stopping.set()
        await stop_task(self._lag_task)
        timeout = self._settings.fetch_timeout_s + 10
        await asyncio.gather(self._frames.stop(timeout), self._events.stop(timeout))

    async def check(self) -> None:
        """Readiness: both consumer loops are running."""
        self._frames.check()
        self._events.check()

    # -- frames ----------------------------------------------------------------------------

    async def _ingest(self, msgs: list[Msg]) -> None:
        decoded: list[tuple[int, FrameRecord]] = []
        stored: list[Msg] = []
        for msg in msgs:
            seq = stream_sequence(msg)
            try:
                decoded.append((seq, decode_frame(msg.data)))
                stored.append(msg)
            except Unstorable as exc:
                INGEST_ERRORS.labels(kind="decode").inc()
                log.error("frame %d on %s cannot be stored, dropped: %s", seq, msg.subject, exc)
                await settle(msg, term=True)
        # Capture order, not stream order: edge and connectors publish independently.
        decoded.sort(key=lambda item: (item[1].ts_ns, item[0]))
        rows = [row_of(seq, record) for seq, record in decoded]
        events = await self._derive(decoded)
        if not await self._store(rows, events):
            return  # stopping with the batch uncommitted: unacked, so it is redelivered
        for msg in stored:
            await settle(msg, term=False)

    async def _derive(self, decoded: list[tuple[int, FrameRecord]]) -> list[EventBase]:
        wanted = self._normaliser.unknown_transactions([r for _, r in decoded])
        if wanted:
            try:
                async with self._pool.acquire() as conn:
                    for (charger, tx), gtx in (await known_transactions(conn, wanted)).items():
                        self._normaliser.learn(charger, tx, gtx)
            except Exception as exc:  # the store retries below; derive with what we know
                log.warning("looking up open transactions failed: %r", exc)
        events: list[EventBase] = []
        for seq, record in decoded:
            try:
                events += self._normaliser.feed(seq, record)
            except Exception:  # a frame the normaliser chokes on must not block the stream
                log.exception("deriving events from frame %d failed; frame stored anyway", seq)
        return events

    async def _store(
        self, rows: list[Row], events: list[EventBase], *, publish: bool = True
    ) -> bool:
        """Write the batch, retrying database errors until it commits or the service stops."""
        delay = BACKOFF_FIRST_S
        days: set[date] = {r["ts"].date() for r in rows} | {day_of(e.ts) for e in events}
        while True:
            try:
                async with self._pool.acquire() as conn:
                    await self._partitions.ensure(conn, PARTITIONED, days)
                    async with conn.transaction():
                        written = await write_batch(conn, rows, events, outbox=publish)
                FRAMES_STORED.inc(written.frames)
                EVENTS_STORED.inc(len(written.events))
                if written.events and publish:
                    self._outbox.wake()
                return True
            except Exception as exc:
                INGEST_ERRORS.labels(kind="database").inc()
                log.error("storing %d frames failed, retrying in %.1fs: %r", len(rows), delay, exc)
            if self._stopping.is_set():
                return False
            await self._frames.pause(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)

    # -- events published by other services ------------------------------------------------

    async def _ingest_events(self, msgs: list[Msg]) -> None:
        events: list[EventBase] = []
        stored: list[Msg] = []
        for msg in msgs:
            try:
                events.append(parse_event(msg.data))
                stored.append(msg)
            except ValueError as exc:
                INGEST_ERRORS.labels(kind="decode").inc()
                log.error("event on %s is not a canonical event, dropped: %s", msg.subject, exc)
                await settle(msg, term=True)
        if not await self._store([], events, publish=False):
            return
        for msg in stored:
            await settle(msg, term=False)

    async def _watch_lag(self) -> None:
        # Ends on the stop flag, not on cancellation alone: nats-py may turn a cancellation that
        # lands inside a request into another exception, which the handler below would swallow.
        while not self._stopping.is_set():
            try:
                if self._frames.sub is not None:
                    info = await self._frames.sub.consumer_info()
                    LAG.set(info.num_pending or 0)
                    ACK_PENDING.set(info.num_ack_pending or 0)
            except Exception as exc:  # a gauge going stale must not disturb ingest
                log.debug("consumer info failed: %r", exc)
            await self._frames.pause(LAG_EVERY_S)
