"""A durable JetStream pull consumer loop: fetch, hand the batch over, back off on errors, stop
cleanly. The batch handler acknowledges; the loop only decides when to fetch.

Fetching speaks JetStream's pull protocol itself (`Fetcher`) instead of through nats-py's
`PullSubscription.fetch`, which waits for every message with a task and a timer of its own:
57 µs of CPU per message on uvloop (73-91 on asyncio) against 22 here, a third of the
journal's CPU per frame (`bench/micro/pull_fetch.py`, `bench/micro/journal_ingest.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, ConsumerInfo

from sy_calls import stop_task
from sy_journal.metrics import INGEST_ERRORS

log = logging.getLogger(__name__)

BACKOFF_FIRST_S = 0.2
BACKOFF_MAX_S = 5.0
# Status-only messages that end a pull request without saying anything is wrong: nothing to
# deliver now (404, to a no_wait request), the request expired (408), an idle heartbeat (100).
QUIET_STATUSES = frozenset({"404", "408", "100"})
# Beyond a pull request's expiry, how long a fetch waits for the server's word that it ended.
EXPIRY_MARGIN_S = 1.0


class FetchRefused(Exception):
    """JetStream ended a pull request with an error status (e.g. 409 Consumer Deleted)."""


class Fetcher:
    """Pull requests for one durable consumer, all answered on one subscription of this client.

    The protocol (NATS docs, "JetStream wire API", consumer `MSG.NEXT`): a request
    `{"batch": n, "no_wait": true}` or `{"batch": n, "expires": <ns>}` published to
    `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` with the inbox as reply subject; the server
    delivers up to n messages there, and ends the request with a status-only message (404: no
    more now; 408: expired) unless it was filled. The subscription's callback appends each
    message to a list and wakes the fetch once per request or batch, not once per message.

    A fetch asks for what is there now (no_wait); if nothing, it waits up to `timeout_s` for one
    message. A message that arrives after its request's fetch gave up (a lost reply, a
    reconnect) is taken by the next fetch.
    """

    def __init__(self, nc: Client, stream: str, consumer: str) -> None:
        self._nc = nc
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._inbox = nc.new_inbox()
        self._got: list[Msg] = []
        self._want = 0
        self._ended = asyncio.Event()
        self._refused: str | None = None
        self._sub: Subscription | None = None

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(self._inbox, cb=self._arrived)

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):  # the connection may already be closing
                await self._sub.unsubscribe()

    async def fetch(self, batch: int, timeout_s: float, *, wait: bool = True) -> list[Msg]:
        """Up to `batch` messages; none after `timeout_s` without any (at once if not `wait`)."""
        if not self._got:
            await self._request({"batch": batch, "no_wait": True}, batch, timeout_s)
        if not self._got and wait:
            # One message, so the request ends with it: nothing is delivered to this replica
            # after the fetch returned (it would wait out the ack timeout if the journal stopped).
            await self._request({"batch": 1, "expires": int(timeout_s * 1e9)}, 1, timeout_s)
        taken, self._got = self._got[:batch], self._got[batch:]
        if not taken and self._refused is not None:
            refused, self._refused = self._refused, None
            raise FetchRefused(refused)
        return taken

    async def _request(self, body: dict[str, object], wake_at: int, timeout_s: float) -> None:
        self._want = wake_at
        self._ended.clear()
        await self._nc.publish(self._next_subject, json.dumps(body).encode(), reply=self._inbox)
        with contextlib.suppress(TimeoutError):  # a request lost with a reconnect: ask again
            await asyncio.wait_for(self._ended.wait(), timeout_s + EXPIRY_MARGIN_S)

    async def _arrived(self, msg: Msg) -> None:
        status = msg.headers.get("Status") if msg.headers else None
        if status is None:
            self._got.append(msg)
            if len(self._got) >= self._want:
                self._ended.set()
            return
        if status not in QUIET_STATUSES:
            self._refused = f"{status} {msg.headers.get('Description', '') if msg.headers else ''}"
        if status != "100":
            self._ended.set()


class PullLoop:
    def __init__(
        self,
        nc: Client,
        js: JetStreamContext,
        stream: str,
        config: ConsumerConfig,
        handle: Callable[[list[Msg]], Awaitable[None]],
        *,
        batch: int,
        fetch_timeout_s: float,
        stopping: asyncio.Event,
        linger_s: float = 0.0,
    ) -> None:
        self._nc = nc
        self._js = js
        self._stream = stream
        self._config = config
        self._handle = handle
        self._batch = batch
        self._fetch_timeout_s = fetch_timeout_s
        self._linger_s = linger_s
        self._stopping = stopping
        self._fetcher: Fetcher | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self._config.durable_name or ""

    async def start(self) -> None:
        # Create-or-update: a changed batch size reaches an existing durable consumer.
        await self._js.add_consumer(self._stream, self._config)
        self._fetcher = Fetcher(self._nc, self._stream, self.name)
        await self._fetcher.start()
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
        if self._fetcher is not None:
            await self._fetcher.stop()

    async def consumer_info(self) -> ConsumerInfo:
        info: ConsumerInfo = await self._js.consumer_info(self._stream, self.name)
        return info

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
        assert self._fetcher is not None
        delay = BACKOFF_FIRST_S
        while not self._stopping.is_set():
            try:
                msgs = await self._fetcher.fetch(self._batch, self._fetch_timeout_s)
                if not msgs:
                    continue  # nothing new on the stream
                if len(msgs) < self._batch and self._linger_s > 0:
                    # One transaction for what arrives meanwhile, not one for each few frames.
                    await self.pause(self._linger_s)
                    more = self._batch - len(msgs)
                    msgs += await self._fetcher.fetch(more, self._fetch_timeout_s, wait=False)
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
