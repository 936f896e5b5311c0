"""Waiting in tests for something that happens on its own (a route published, a wave moving
on, a replica taking shards over): poll until it holds, fail with a sentence when it does not."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable


async def eventually(
    check: Callable[[], bool | Awaitable[bool]],
    within_s: float = 10.0,
    what: str | Callable[[], str] = "the condition",
    *,
    every_s: float = 0.05,
) -> float:
    """Poll `check` (plain or async) until it is true; returns the seconds that took. Fails the
    test with `what` (or what it returns, for a message built at the time) after `within_s`."""
    started = time.monotonic()
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return time.monotonic() - started
        if time.monotonic() - started >= within_s:
            said = what() if callable(what) else what
            raise AssertionError(f"{said}: not within {within_s:g} s")
        await asyncio.sleep(every_s)
