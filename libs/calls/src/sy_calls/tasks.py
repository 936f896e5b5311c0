"""Stopping a background task for sure."""

from __future__ import annotations

import asyncio
from typing import Any


async def stop_task(task: asyncio.Task[Any] | None, grace_s: float = 1.0) -> None:
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
