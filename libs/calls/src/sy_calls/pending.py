"""Outstanding CALLs keyed by message id."""

from __future__ import annotations

import asyncio


class PendingCalls:
    """Futures for CALLs awaiting their CALLRESULT / CALLERROR, resolved with the answer's text."""

    def __init__(self) -> None:
        self._calls: dict[str, asyncio.Future[str]] = {}

    def __len__(self) -> int:
        return len(self._calls)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._calls

    def expect(self, message_id: str) -> asyncio.Future[str]:
        if message_id in self._calls:
            raise ValueError(f"a CALL with message id {message_id!r} is already outstanding")
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._calls[message_id] = future
        return future

    async def wait(self, message_id: str, future: asyncio.Future[str], timeout_s: float) -> str:
        """The answer's text; raises TimeoutError and forgets the CALL when none comes in time,
        ConnectionError when `fail_all` ends it first.

        One timer per wait fails the future itself with TimeoutError at the deadline (the CALL
        is forgotten at that moment, so an answer a moment later is an unknown id): no extra
        future, task or shield per CALL as with `asyncio.wait_for(asyncio.shield(...))`. The
        future is never cancelled by the timeout; it is cancelled only if the waiting task is
        (then the CALL is forgotten too, and only its caller ever held the future)."""
        if not future.done():
            timer = asyncio.get_running_loop().call_later(
                timeout_s, self._expire, message_id, future
            )
            try:
                return await future
            finally:
                timer.cancel()
                if self._calls.get(message_id) is future:
                    del self._calls[message_id]
        if self._calls.get(message_id) is future:
            del self._calls[message_id]
        return future.result()

    def _expire(self, message_id: str, future: asyncio.Future[str]) -> None:
        if self._calls.get(message_id) is future:
            del self._calls[message_id]
        if not future.done():
            future.set_exception(TimeoutError())

    def forget(self, message_id: str, future: asyncio.Future[str]) -> None:
        """No answer is awaited for this CALL any more (it was not sent, or it is over): a
        later answer with its id is unknown, and the id may be used again."""
        if self._calls.get(message_id) is future:
            del self._calls[message_id]

    def resolve(self, message_id: str, answer: str) -> bool:
        """Hand an answer to its CALL. False when no CALL with that id is outstanding."""
        future = self._calls.pop(message_id, None)
        if future is None or future.done():
            return False
        future.set_result(answer)
        return True

    def fail_all(self, reason: str) -> None:
        """The peer is gone: every outstanding CALL fails now instead of waiting for its timeout."""
        calls, self._calls = self._calls, {}
        for future in calls.values():
            if not future.done():
                future.set_exception(ConnectionError(reason))
