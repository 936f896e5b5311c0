"""Capture frames to JetStream without putting JetStream on the hot path.

The edge and connectors call `FramePublisher.capture()` (no await, never blocks or raises on the
charger's frame), with a `FrameRecord` or, cheaper, its fields as a tuple (`FrameFields`). That
only queues: the record, its subject, its JSON and its dedup id are made by the worker when it
publishes, off the path of the CALL being forwarded (at low load every step of a CALL runs with
cold caches, where building and encoding a record costs tens of µs). A single worker publishes
the queued frames as core NATS messages whose reply subject is an inbox of the publisher's own
(`<inbox>.<n>`, one wildcard subscription), so the stream's acknowledgement comes back there; the
frames sent and not acknowledged yet wait in a dict keyed by that reply subject. No future,
semaphore or NUID per frame: a counter and a dict entry.

Every frame carries a `Nats-Msg-Id` unique to it. A frame whose ack does not arrive within
`ACK_TIMEOUT_S`, or that is answered with an error (`{"error": ...}`, or the "no responders"
status when the stream is not there), is published again with the same id after a backoff, until
it is acknowledged: the stream's duplicate window keeps exactly one copy (invariant 4: every frame
is on JetStream). At most `MAX_UNACKED` frames are in flight or waiting to be sent again; the rest
wait in the bounded queue, whose overflow is logged and counted.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import secrets
from collections import deque

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext

from sy_bus import subjects
from sy_bus.envelopes import FrameRecord, Header
from sy_bus.subjects import FrameDirection
from sy_calls import stop_task

log = logging.getLogger(__name__)

ACK_TIMEOUT_S = 5.0
# Frames published and not acknowledged yet, plus those waiting to be published again.
MAX_UNACKED = 4096
# An idle worker woken by a capture waits this long for more before publishing: one write to the
# socket and one batch of acks for several CALLs' frames instead of one per frame.
LINGER_S = 0.005
FIRST_RETRY_S = 0.1
LONGEST_RETRY_S = 5.0
CHUNK = 256  # publications between two yields to the event loop
_LOG_EVERY_S = 1.0
_STATUS = "Status"  # the header of a NATS status message (503: no responders)

# A queued frame: subject, payload, and its headers (the dedup id), built once.
_Frame = tuple[str, bytes, dict[str, str]]
# A frame's fields in `FrameRecord`'s order, up to `rules`: what `capture` takes, cheaper.
FrameFields = tuple[
    str,  # charger_id
    FrameDirection,
    int,  # ts_ns
    str,  # ocpp
    str,  # raw
    int | None,  # message_type
    str | None,  # message_id
    str | None,  # action
    str | None,  # backend
    str,  # instance
    str,  # connection_id
    str | None,  # normalized
    list[str],  # rules
]


def acknowledged(msg: Msg) -> bool:
    """A JetStream PubAck (`{"stream": .., "seq": ..}`, `"duplicate": true` included), not an
    error (`{"error": {..}}`) nor a status message (503 when the stream is not there)."""
    if msg.headers and _STATUS in msg.headers:
        return False
    try:
        doc = orjson.loads(msg.data)
    except orjson.JSONDecodeError:
        return False
    return isinstance(doc, dict) and "seq" in doc and "error" not in doc


class FramePublisher:
    def __init__(
        self, js: JetStreamContext | Client, instance: str, max_queue: int = 200_000
    ) -> None:
        self._nc: Client = js if isinstance(js, Client) else js._nc
        self._max_queue = max_queue
        # Captured, made into a `_Frame` when sent.
        self._queue: deque[FrameRecord | FrameFields] = deque()
        # Dedup ids `<instance>-<random>-<n>`: unique even when a process restarts under the
        # same instance id (a restarted container keeps its pod name) within the stream's
        # duplicate window, where `<instance>-<n>` again would have its frames dropped.
        self._dedup_prefix = f"{instance}-{secrets.token_hex(4)}-"
        self._seq = itertools.count(1)
        # Reply subjects: `<own inbox>.<n>`, a new n for every publication of a frame, so a late
        # ack of an earlier publication is told apart (and ignored) without any bookkeeping.
        self._reply_prefix = self._nc.new_inbox() + "."
        self._replies = itertools.count(1)
        # Published, waiting for the ack: reply subject -> (frame, sent at, failed attempts).
        # Insertion order is the order sent, so the oldest is first.
        self._unacked: dict[str, tuple[_Frame, float, int]] = {}
        # To publish again: (due, tie-breaker, frame, failed attempts), a heap.
        self._retry: list[tuple[float, int, _Frame, int]] = []
        self._retries = itertools.count()
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._waiter: asyncio.Future[None] | None = None  # the worker sleeping
        self._linger: asyncio.TimerHandle | None = None  # ... and about to be woken
        self._full = False  # ... because MAX_UNACKED frames are in flight
        self._drained: asyncio.Future[None] | None = None  # stop() waiting
        self._failures = 0  # not acknowledged since the last warning
        self._warned_at = 0.0
        self.published = 0
        self.overflowed = 0

    @property
    def backlog(self) -> int:
        """Frames captured and not on the stream yet (queued, in flight or to be sent again)."""
        return len(self._queue) + len(self._unacked) + len(self._retry)

    def capture(self, record: FrameRecord | FrameFields) -> None:
        """Queue a frame for the stream. Overflow is logged and counted, never raised."""
        if len(self._queue) >= self._max_queue:
            self.overflowed += 1
            charger_id = record.charger_id if isinstance(record, FrameRecord) else record[0]
            log.error(
                "frame capture queue full, frame not captured", extra={"charger_id": charger_id}
            )
            return
        self._queue.append(record)
        waiter = self._waiter
        if waiter is not None and self._linger is None and not self._full:
            self._linger = waiter.get_loop().call_later(LINGER_S, self._wake)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="frame-publisher")

    async def stop(self, drain_timeout_s: float = 5.0) -> None:
        """Publish what is queued (bounded by `drain_timeout_s`), then stop."""
        if self._task is None:
            return
        if self.backlog:
            self._drained = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self._drained, timeout=drain_timeout_s)
            except TimeoutError:
                log.error("frame capture stopped with %d frames unpublished", self.backlog)
            self._drained = None
        await stop_task(self._task)
        self._task = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception as exc:  # the connection is closing or closed: nothing to undo
                log.debug("frame ack subscription not removed: %s", exc)
            self._sub = None

    # -- the worker ----------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        await self._subscribe()
        while True:
            room = MAX_UNACKED - len(self._unacked) - len(self._retry)
            retry_due = bool(self._retry) and self._retry[0][0] <= loop.time()
            if not retry_due and not (self._queue and room > 0):
                self._full = room <= 0
                self._waiter = loop.create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
                    if self._linger is not None:
                        self._linger.cancel()
                        self._linger = None
                continue
            if await self._publish_some(loop, min(room, CHUNK)) >= CHUNK:
                await asyncio.sleep(0)  # let the flusher write, acks in, the chargers' frames on

    async def _subscribe(self) -> None:
        pause = FIRST_RETRY_S
        while True:
            try:
                self._sub = await self._nc.subscribe(self._reply_prefix + "*", cb=self._on_ack)
                return
            except Exception as exc:
                log.warning("frame capture cannot subscribe to its acks yet: %s", exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, LONGEST_RETRY_S)

    async def _publish_some(self, loop: asyncio.AbstractEventLoop, room: int) -> int:
        """Publish the retries that are due, then up to `room` new frames: how many in all
        (at most about CHUNK)."""
        now = loop.time()
        retry, queue = self._retry, self._queue
        sent = 0
        while retry and retry[0][0] <= now and sent < CHUNK:  # a retry has its room already
            _, _, frame, attempts = heapq.heappop(retry)
            await self._publish(frame, now, attempts)
            sent += 1
        while queue and room > 0 and sent < CHUNK:
            room -= 1
            sent += 1
            captured = queue.popleft()
            try:
                frame = self._frame(captured)
            except Exception:  # a caller's bug: that frame is lost, not the worker
                log.exception("captured frame cannot be encoded, frame not captured")
                continue
            await self._publish(frame, now, 0)
        if self._timer is None:
            self._arm(loop)
        return sent

    def _frame(self, captured: FrameRecord | FrameFields) -> _Frame:
        """A captured frame as published, every time: its subject, its JSON, its dedup id."""
        record = captured if isinstance(captured, FrameRecord) else FrameRecord(*captured)
        return (
            subjects.frames(record.charger_id, record.direction),
            record.to_bytes(),
            {Header.DEDUP: f"{self._dedup_prefix}{next(self._seq)}"},
        )

    async def _publish(self, frame: _Frame, now: float, attempts: int) -> None:
        reply = f"{self._reply_prefix}{next(self._replies)}"
        self._unacked[reply] = (frame, now, attempts)
        try:
            await self._nc.publish(frame[0], frame[1], reply=reply, headers=frame[2])
        except Exception as exc:  # disconnected with a full buffer, closed, draining: later
            if self._unacked.pop(reply, None) is not None:
                self._failed(frame, attempts, repr(exc))

    # -- acks, timeouts, retries ---------------------------------------------------------------

    async def _on_ack(self, msg: Msg) -> None:
        entry = self._unacked.pop(msg.subject, None)
        if entry is None:
            return  # the ack of a publication we gave up on: the frame was sent again
        if acknowledged(msg):
            self.published += 1
            if self._full and len(self._unacked) + len(self._retry) <= MAX_UNACKED // 2:
                self._wake()
            if self._drained is not None:
                self._check_drained()
            return
        self._failed(entry[0], entry[2], msg.data.decode(errors="replace") or str(msg.headers))

    def _failed(self, frame: _Frame, attempts: int, reason: str, rearm: bool = True) -> None:
        """Publish `frame` again after a backoff that grows with its failed attempts."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        due = now + min(FIRST_RETRY_S * 2 ** min(attempts, 16), LONGEST_RETRY_S)
        heapq.heappush(self._retry, (due, next(self._retries), frame, attempts + 1))
        self._failures += 1
        if now - self._warned_at >= _LOG_EVERY_S:
            log.warning(
                "%d frames not acknowledged by JetStream (%s), publishing them again",
                self._failures,
                reason[:200],
            )
            self._failures, self._warned_at = 0, now
        if rearm and (self._timer is None or self._timer.when() > due):
            self._arm(loop)

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        """Time the next check: the oldest frame's ack timeout, or the next retry."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        when = None
        if self._unacked:
            when = next(iter(self._unacked.values()))[1] + ACK_TIMEOUT_S
        # A retry already due is the worker's to send (woken by `_tick`), not a timer's.
        due = self._retry[0][0] if self._retry else None
        if due is not None and due > loop.time() and (when is None or due < when):
            when = due
        if when is not None:
            self._timer = loop.call_at(when, self._tick)

    def _tick(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        expired = loop.time() - ACK_TIMEOUT_S
        late = []
        for reply, (_, sent, _) in self._unacked.items():
            if sent > expired:
                break
            late.append(reply)
        for reply in late:
            frame, _, attempts = self._unacked.pop(reply)
            self._failed(frame, attempts, f"no ack within {ACK_TIMEOUT_S:g} s", rearm=False)
        if self._retry and self._retry[0][0] <= loop.time():
            self._wake()
        self._arm(loop)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _check_drained(self) -> None:
        drained = self._drained
        if drained is not None and not drained.done() and not self.backlog:
            drained.set_result(None)
