"""Request/reply for the hot path: one wildcard inbox subscription, a counter, a timer.

What nats-py's `Client.request` does per request, minus what it costs: a NUID and random bytes
for the reply subject, a done-callback, and `asyncio.wait_for` (a second future and a callback).
Here the reply subject is `<own inbox>.<n>`, the caller owns the future its reply resolves (so it
can fail it itself, e.g. to send the request elsewhere), and one `loop.call_later` is the timeout.

Answers are the same as `Client.request`'s: the reply `Msg`; `nats.errors.NoRespondersError` when
the server answers with the "no responders" status (503: nobody subscribes to the subject); and
`nats.errors.TimeoutError` when no reply came within the timeout. The subscription lives under the
connection's inbox prefix, where a service's NATS user may subscribe (`sy_bus.permissions`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging

from nats.aio.client import NO_RESPONDERS_STATUS, Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import Header as NatsHeader

log = logging.getLogger(__name__)

_STATUS = NatsHeader.STATUS.value


class Requests:
    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._prefix = nc.new_inbox() + "."
        self._replies = itertools.count(1)
        # Reply subject -> the future its reply resolves, and its timeout. A future its caller
        # gave up on stays until its reply or its timeout comes (then both are ignored).
        self._waiting: dict[str, tuple[asyncio.Future[Msg], asyncio.TimerHandle]] = {}
        self._sub: Subscription | None = None

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def start(self) -> None:
        if self._sub is None:
            self._sub = await self._nc.subscribe(self._prefix + "*", cb=self._on_reply)

    async def stop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            try:
                await sub.unsubscribe()
            except Exception as exc:  # the connection is closing or closed: nothing to undo
                log.debug("reply subscription not removed: %s", exc)
        # Their replies cannot come any more: they time out now rather than at their deadline
        # (a cancel would raise CancelledError in tasks nobody cancelled).
        waiting, self._waiting = self._waiting, {}
        for answer, timer in waiting.values():
            timer.cancel()
            if not answer.done():
                answer.set_exception(NatsTimeout())

    async def request(
        self, subject: str, payload: bytes, timeout_s: float, headers: dict[str, str] | None = None
    ) -> Msg:
        """Like `Client.request`: the reply, NoRespondersError or nats' TimeoutError."""
        answer: asyncio.Future[Msg] = asyncio.get_running_loop().create_future()
        await self.send(subject, payload, answer, timeout_s, headers)
        return await answer

    async def send(
        self,
        subject: str,
        payload: bytes,
        answer: asyncio.Future[Msg],
        timeout_s: float,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Publish a request whose reply resolves `answer` (or fails it, as `request` would).
        The caller may resolve or fail `answer` first; a reply coming later is then ignored."""
        if self._sub is None:
            raise RuntimeError("Requests.start() was not awaited")
        reply = f"{self._prefix}{next(self._replies)}"
        timer = asyncio.get_running_loop().call_later(timeout_s, self._expire, reply)
        self._waiting[reply] = (answer, timer)
        try:
            await self._nc.publish(subject, payload, reply=reply, headers=headers)
        except BaseException:
            self._waiting.pop(reply, None)
            timer.cancel()
            raise

    async def _on_reply(self, msg: Msg) -> None:
        entry = self._waiting.pop(msg.subject, None)
        if entry is None:
            return  # timed out already
        answer, timer = entry
        timer.cancel()
        if answer.done():
            return
        if msg.headers and msg.headers.get(_STATUS) == NO_RESPONDERS_STATUS:
            answer.set_exception(NoRespondersError())
        else:
            answer.set_result(msg)

    def _expire(self, reply: str) -> None:
        entry = self._waiting.pop(reply, None)
        if entry is not None and not entry[0].done():
            entry[0].set_exception(NatsTimeout())
