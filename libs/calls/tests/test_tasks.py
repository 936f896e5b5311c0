"""`start_eagerly`: a coroutine's first step at once, the rest as a task, as a task would run it."""

import asyncio
import contextvars

import pytest

from sy_calls.tasks import start_eagerly

var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="caller")


async def test_first_step_runs_at_once_and_the_rest_as_a_task() -> None:
    steps: list[str] = []
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def work() -> str:
        steps.append("first")
        got = await gate
        steps.append(got)
        await asyncio.sleep(0)  # a bare yield
        await asyncio.sleep(0.001)  # a timer
        return "done"

    task = start_eagerly(work(), name="w")
    assert steps == ["first"] and task is not None and not task.done()
    gate.set_result("second")
    assert await task == "done"
    assert steps == ["first", "second"]


async def test_a_coroutine_that_never_waits_gives_none() -> None:
    async def work() -> int:
        return 1

    assert start_eagerly(work()) is None


async def test_exceptions_reach_the_coroutine_and_the_task() -> None:
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    caught: list[BaseException] = []

    async def work() -> str:
        try:
            await gate
        except KeyError as exc:
            caught.append(exc)
        raise ValueError("after")

    task = start_eagerly(work())
    assert task is not None
    gate.set_exception(KeyError("k"))
    with pytest.raises(ValueError, match="after"):
        await task
    assert isinstance(caught[0], KeyError)


async def test_a_failing_first_step_gives_a_failed_future() -> None:
    async def work() -> None:
        raise ValueError("at once")

    failed = start_eagerly(work())
    assert failed is not None and failed.done()
    with pytest.raises(ValueError, match="at once"):
        await failed


async def test_cancelling_the_task_cancels_what_the_coroutine_waits_for() -> None:
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def work() -> None:
        try:
            await gate
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    task = start_eagerly(work())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gate.cancelled() and seen == ["cancelled"] and task.cancelled()


async def test_a_cancel_at_a_bare_yield_or_after_the_future_is_done_is_thrown_in() -> None:
    seen: list[str] = []
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def work() -> None:
        await gate
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen.append("cancelled while sleeping")
            raise

    task = start_eagerly(work())
    assert task is not None
    gate.set_result("x")  # the task is woken, not run yet: this cancel is "must cancel"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == []  # thrown in at `await gate`, which it does not catch

    async def spins() -> None:
        while True:
            try:
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                seen.append("cancelled at a bare yield")
                raise

    task = start_eagerly(spins())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled at a bare yield"]


async def test_context_variables_stay_in_the_coroutine() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def work() -> None:
        var.set("inner")
        await gate
        seen.append(var.get())

    task = start_eagerly(work())
    assert task is not None
    assert var.get() == "caller"  # the first step's change did not leak out
    gate.set_result(None)
    await task
    assert seen == ["inner"]


async def test_a_resumed_coroutine_can_also_be_awaited_directly() -> None:
    from sy_calls.tasks import _Resumed

    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def work() -> str:
        try:
            return await gate
        except KeyError:
            return "caught"

    coro = work()
    first = coro.send(None)
    assert first is gate
    asyncio.get_running_loop().call_soon(gate.set_exception, KeyError("k"))
    assert await _Resumed(coro, first) == "caught"
