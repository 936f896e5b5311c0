"""Background tasks: stopping one for sure, and starting one without waiting for the loop."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")


async def stop_task(task: asyncio.Future[Any] | None, grace_s: float = 1.0) -> None:
    """Cancel `task` until it has finished.

    A single cancel is not enough when the cancellation lands inside a library call that turns
    it into another exception (nats-py requests can), which the task's own error handling then
    swallows: it would carry on forever and its owner's shutdown would hang.
    """
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=grace_s)
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as never retrieved


def start_eagerly(
    coro: Coroutine[Any, Any, T], *, name: str | None = None
) -> asyncio.Future[T] | None:
    """Run `coro` at once, up to the first point where it waits, then go on as a task.

    `asyncio.create_task` runs nothing before the caller yields to the loop: the coroutine's first
    step waits for the next turn of the loop, behind whatever else is ready. Python 3.12's eager
    tasks start at once; this does the same on 3.11. A CALL handed to an idle lane is decoded and
    sent on by the time `submit` returns, and then the task waits for the answer.

    The first step runs in a copy of the caller's context (as a task's would), so context
    variables it sets (e.g. a tracing span) do not leak into the caller; `asyncio.current_task()`
    is still the caller's during that step. Returns None when the coroutine finished in its first
    step; an exception raised in that step is in the returned (done) future.
    """
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    try:
        waiting_for = context.run(coro.send, None)
    except StopIteration:
        return None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        failed: asyncio.Future[T] = loop.create_future()
        if isinstance(exc, asyncio.CancelledError):
            failed.cancel()
        else:
            failed.set_exception(exc)
        return failed
    return loop.create_task(_Resumed(coro, waiting_for), name=name, context=context)


_STARTED = object()


class _Resumed(Coroutine[Any, Any, T]):
    """A coroutine already past its first step, as a task sees it: its first `send` gives what
    the coroutine yielded in that step (the future it waits for), and from then on every
    `send` and `throw` goes to the coroutine, as they would had the task started it itself."""

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Coroutine[Any, Any, T], first: Any) -> None:
        self._coro = coro
        self._first = first

    def send(self, value: Any) -> Any:
        first = self._first
        if first is _STARTED:
            return self._coro.send(value)
        self._first = _STARTED
        return first

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        first = self._first
        if first is not _STARTED:
            # Cancelled before the task's first step: as a task cancels what it waits for.
            self._first = _STARTED
            if isinstance(first, asyncio.Future):
                first.cancel()
        if val is None and tb is None:
            return self._coro.throw(typ)
        return self._coro.throw(typ, val, tb)  # pragma: no cover - the old signature

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, Any, T]:
        value: Any = None
        thrown: BaseException | None = None
        while True:
            try:
                yielded = self.send(value) if thrown is None else self.throw(thrown)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value, thrown = None, None
            try:
                value = yield yielded
            except BaseException as exc:  # handed to the coroutine, as a task would
                thrown = exc
