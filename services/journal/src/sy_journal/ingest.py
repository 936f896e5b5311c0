"""SY_FRAMES -> journal: frames, canonical events, status history and sessions, one transaction
per batch; plus the events other services publish on SY_EVENTS.

A batch is acknowledged only after its transaction commits, so a frame JetStream acknowledged to
its producer is never lost (invariant 4); a crash between commit and ack means a redelivery, which
the unique stream sequence and event ids turn into a no-op. Derived events go to the outbox in the
same transaction and are published to SY_EVENTS after the commit (`outbox.py`).

The normaliser keeps per-charger state in memory (open exchanges, transaction ids), so one
replica owns one consumer name. After a restart it looks up the open 1.6 transactions it needs
in journal.sessions.

A batch Postgres rejects for its data (or that cannot even be turned into parameters) would fail
the same way on every retry and stop the journal for every charger. Such a batch is split until
the messages responsible are found: each of those frames is stored raw without its events, an
event consumed from SY_EVENTS is terminated, and the rest of the batch commits.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import asyncpg  # type: ignore[import-untyped]
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from sy_bus import FrameRecord, streams, subjects
from sy_calls import stop_task
from sy_events import EventBase, Normaliser, parse_event
from sy_events.models import event_type
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
# Errors that say the batch's data can never be written, however often it is retried: Postgres
# refusing a value (SQLSTATE class 22: out of range, NUL, bad text, ...; asyncpg raises the same
# class for an argument it cannot encode), or a timestamp out of Python's range when it is
# turned into UTC. Anything else (connection lost, schema missing, a bug raising TypeError) is
# retried as it is: a bug must show as a stalled journal, not as frames stored without events.
UNWRITABLE = (asyncpg.DataError, OverflowError)


@dataclass(slots=True)
class Part:
    """What one stream message adds to a batch: a frame's row and the events derived from it,
    or an event consumed from SY_EVENTS (no row). A batch is split only between parts."""

    seq: int  # stream sequence of the message
    row: Row | None
    events: list[EventBase]

    @property
    def charger_id(self) -> str | None:
        if self.row is not None:
            charger_id: str = self.row["charger_id"]
            return charger_id
        return self.events[0].charger_id if self.events else None


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
            rt.nc,
            rt.js,
            streams.FRAMES.name,
            consumer_config(settings),
            self._ingest,
            batch=settings.batch_size,
            fetch_timeout_s=settings.fetch_timeout_s,
            stopping=self._stopping,
            linger_s=settings.batch_linger_s,
        )
        self._events = PullLoop(
            rt.nc,
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
        stored: list[tuple[int, Msg]] = []
        for msg in msgs:
            seq = stream_sequence(msg)
            try:
                decoded.append((seq, decode_frame(msg.data, seq=seq)))
                stored.append((seq, msg))
            except Unstorable as exc:
                INGEST_ERRORS.labels(kind="decode").inc()
                log.error("frame %d on %s cannot be stored, dropped: %s", seq, msg.subject, exc)
                await settle(msg, term=True)
        # Capture order, not stream order: edge and connectors publish independently.
        decoded.sort(key=lambda item: (item[1].ts_ns, item[0]))
        dropped = await self._store(await self._derive(decoded))
        if dropped is None:
            return  # stopping with the batch uncommitted: unacked, so it is redelivered
        for seq, msg in stored:
            await settle(msg, term=seq in dropped)

    async def _derive(self, decoded: list[tuple[int, FrameRecord]]) -> list[Part]:
        wanted = self._normaliser.unknown_transactions([r for _, r in decoded])
        if wanted:
            try:
                async with self._pool.acquire() as conn:
                    for (charger, tx), gtx in (await known_transactions(conn, wanted)).items():
                        self._normaliser.learn(charger, tx, gtx)
            except Exception as exc:  # the store retries below; derive with what we know
                log.warning("looking up open transactions failed: %r", exc)
        parts: list[Part] = []
        for seq, record in decoded:
            try:
                events = self._normaliser.feed(seq, record)
            except Exception:  # a frame the normaliser chokes on must not block the stream
                log.exception("deriving events from frame %d failed; frame stored anyway", seq)
                events = []
            parts.append(Part(seq, row_of(seq, record), events))
        return parts

    async def _store(self, parts: list[Part], *, publish: bool = True) -> set[int] | None:
        """Write the batch, retrying database errors until it commits or the service stops.

        A batch rejected for its data (`UNWRITABLE`) is split in halves, each written in its
        own transaction, down to the part responsible: a frame is then stored without its
        events, and a part that still cannot be written is left out. Returns the stream
        sequences of the messages left out (to terminate), or None when stopping with parts
        uncommitted (nothing is acknowledged then: a redelivery is a no-op for what committed).
        """
        todo = [parts]  # a stack: the next batch to write last, so parts commit in order
        dropped: set[int] = set()
        delay = BACKOFF_FIRST_S
        while todo:
            batch = todo[-1]
            try:
                await self._write(batch, publish)
            except UNWRITABLE as exc:
                todo.pop()
                if len(batch) > 1:
                    if batch is parts:
                        log.warning(
                            "a batch of %d messages was rejected for its data, looking for the "
                            "messages responsible: %r",
                            len(batch),
                            exc,
                        )
                    half = len(batch) // 2
                    todo += [batch[half:], batch[:half]]
                else:
                    without = self._unwritable(batch[0], exc)
                    if without is None:
                        dropped.add(batch[0].seq)
                    else:
                        todo.append([without])
                continue
            except Exception as exc:
                INGEST_ERRORS.labels(kind="database").inc()
                log.error(
                    "storing %d messages failed, retrying in %.1fs: %r", len(batch), delay, exc
                )
                if self._stopping.is_set():
                    return None
                await self._frames.pause(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
                continue
            todo.pop()
            delay = BACKOFF_FIRST_S
        return dropped

    def _unwritable(self, part: Part, exc: BaseException) -> Part | None:
        """What to write instead of a part rejected for its data: its frame without its events,
        or None when nothing of it can be written (its message is terminated)."""
        INGEST_ERRORS.labels(kind="data").inc()
        kinds = ", ".join(sorted({event_type(type(e)) for e in part.events}))
        if part.row is not None and part.events:
            log.error(
                "frame %d of charger %r: its %d derived events (%s) cannot be stored (%r); the "
                "frame is stored raw without them",
                part.seq,
                part.charger_id,
                len(part.events),
                kinds,
                exc,
            )
            return Part(part.seq, part.row, [])
        log.error(
            "%s %d of charger %r cannot be stored (%r): dropped",
            "frame" if part.row is not None else f"event ({kinds})",
            part.seq,
            part.charger_id,
            exc,
        )
        return None

    async def _write(self, parts: list[Part], publish: bool) -> None:
        """Write `parts` in one transaction."""
        rows = [p.row for p in parts if p.row is not None]
        events = [e for p in parts for e in p.events]
        days = {r["ts"].date() for r in rows} | {day_of(e.ts) for e in events}
        async with self._pool.acquire() as conn:
            await self._partitions.ensure(conn, PARTITIONED, days)
            async with conn.transaction():
                written = await write_batch(conn, rows, events, outbox=publish)
        FRAMES_STORED.inc(written.frames)
        EVENTS_STORED.inc(len(written.events))
        if written.events and publish:
            self._outbox.wake()

    # -- events published by other services ------------------------------------------------

    async def _ingest_events(self, msgs: list[Msg]) -> None:
        parts: list[Part] = []
        stored: list[tuple[int, Msg]] = []
        for msg in msgs:
            seq = stream_sequence(msg)
            try:
                parts.append(Part(seq, None, [parse_event(msg.data)]))
                stored.append((seq, msg))
            except ValueError as exc:
                INGEST_ERRORS.labels(kind="decode").inc()
                log.error("event on %s is not a canonical event, dropped: %s", msg.subject, exc)
                await settle(msg, term=True)
        dropped = await self._store(parts, publish=False)
        if dropped is None:
            return
        for seq, msg in stored:
            await settle(msg, term=seq in dropped)

    async def _watch_lag(self) -> None:
        # Ends on the stop flag, not on cancellation alone: nats-py may turn a cancellation that
        # lands inside a request into another exception, which the handler below would swallow.
        while not self._stopping.is_set():
            try:
                info = await self._frames.consumer_info()
                LAG.set(info.num_pending or 0)
                ACK_PENDING.set(info.num_ack_pending or 0)
            except Exception as exc:  # a gauge going stale must not disturb ingest
                log.debug("consumer info failed: %r", exc)
            await self._frames.pause(LAG_EVERY_S)
