"""Lanes serialise work without blocking the submitter; pending calls match answers by id."""

import asyncio

import pytest

from sy_calls import Lane, LaneClosed, PendingCalls


def lane_tasks(name: str) -> int:
    """The lane's running tasks (other tests' leftovers on the shared loop do not count)."""
    return sum(1 for task in asyncio.all_tasks() if task.get_name() == f"lane:{name}")


async def test_lane_runs_items_one_at_a_time_in_order() -> None:
    running = 0
    peak = 0
    seen: list[int] = []

    async def handle(item: int) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001 * (5 - item % 5))  # later items finish faster if run in parallel
        seen.append(item)
        running -= 1

    lane: Lane[int] = Lane("t", handle)
    for i in range(20):
        lane.submit(i)  # returns at once
    assert lane.queued > 0
    for _ in range(200):
        if len(seen) == 20:
            break
        await asyncio.sleep(0.01)
    assert seen == list(range(20))
    assert peak == 1
    await lane.close()


async def test_lane_survives_a_failing_item() -> None:
    done: list[int] = []

    async def handle(item: int) -> None:
        if item == 1:
            raise RuntimeError("boom")
        done.append(item)

    lane: Lane[int] = Lane("t", handle)
    for i in range(3):
        lane.submit(i)
    for _ in range(100):
        if len(done) == 2:
            break
        await asyncio.sleep(0.01)
    assert done == [0, 2]
    await lane.close()


async def test_closed_lane_hands_back_unfinished_work() -> None:
    started = asyncio.Event()
    dropped: list[int] = []

    async def handle(item: int) -> None:
        started.set()
        await asyncio.sleep(10)

    lane: Lane[int] = Lane("t", handle, on_drop=dropped.append)
    lane.submit(1)
    lane.submit(2)
    await asyncio.wait_for(started.wait(), 1)
    await lane.close()
    assert dropped == [1, 2]
    with pytest.raises(LaneClosed):
        lane.submit(3)


async def test_lane_bounded_queue_refuses_overflow() -> None:
    async def handle(item: int) -> None:
        await asyncio.sleep(10)

    lane: Lane[int] = Lane("t", handle, max_queued=2)
    lane.submit(1)
    lane.submit(2)
    with pytest.raises(asyncio.QueueFull):
        lane.submit(3)
    await lane.close()


async def test_pending_calls_match_by_id_and_report_unknown() -> None:
    pending = PendingCalls()
    fut = pending.expect("a")
    with pytest.raises(ValueError):
        pending.expect("a")
    assert pending.resolve("zzz", '[3,"zzz",{}]') is False
    assert pending.resolve("a", '[3,"a",{}]') is True
    assert await pending.wait("a", fut, 1) == '[3,"a",{}]'
    assert len(pending) == 0


async def test_pending_call_times_out_and_is_forgotten() -> None:
    pending = PendingCalls()
    fut = pending.expect("b")
    with pytest.raises(TimeoutError):
        await pending.wait("b", fut, 0.01)
    assert "b" not in pending
    assert pending.resolve("b", "late") is False


async def test_fail_all_wakes_every_waiter() -> None:
    pending = PendingCalls()
    futs = [pending.expect(str(i)) for i in range(3)]
    pending.fail_all("charger disconnected")
    for i, fut in enumerate(futs):
        with pytest.raises(ConnectionError):
            await pending.wait(str(i), fut, 1)


async def test_a_timed_out_call_fails_with_timeout_and_is_not_cancelled() -> None:
    pending = PendingCalls()
    fut = pending.expect("c")
    waiter = asyncio.ensure_future(pending.wait("c", fut, 0.01))
    await asyncio.sleep(0.05)
    assert "c" not in pending  # forgotten at the deadline: a later answer is an unknown id
    assert pending.resolve("c", "late") is False
    with pytest.raises(TimeoutError):
        await waiter
    assert not fut.cancelled()


async def test_a_waiter_woken_by_fail_all_gets_connection_error() -> None:
    pending = PendingCalls()
    fut = pending.expect("d")
    waiter = asyncio.ensure_future(pending.wait("d", fut, 0.05))
    await asyncio.sleep(0)
    pending.fail_all("backend connection lost")
    with pytest.raises(ConnectionError):
        await waiter
    assert len(pending) == 0


async def test_a_cancelled_wait_forgets_its_call() -> None:
    pending = PendingCalls()
    fut = pending.expect("e")
    waiter = asyncio.ensure_future(pending.wait("e", fut, 10))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert "e" not in pending
    assert pending.resolve("e", "late") is False


async def test_an_idle_lane_holds_no_task_and_starts_again_on_the_next_item() -> None:
    seen: list[int] = []

    async def handle(item: int) -> None:
        await asyncio.sleep(0)
        seen.append(item)

    lane: Lane[int] = Lane("idle", handle)
    assert lane_tasks("idle") == 0
    lane.submit(1)
    lane.submit(2)
    assert lane_tasks("idle") == 1
    assert await lane.wait_idle(1)
    await asyncio.sleep(0)  # the task returns once its queue is empty
    assert lane_tasks("idle") == 0 and lane.queued == 0
    lane.submit(3)
    assert await lane.wait_idle(1)
    assert seen == [1, 2, 3]
    await lane.close()


async def test_a_lane_closed_while_idle_drops_nothing_and_refuses_work() -> None:
    dropped: list[int] = []

    async def handle(item: int) -> None:
        return None

    lane: Lane[int] = Lane("t", handle, on_drop=dropped.append)
    lane.submit(1)
    assert await lane.wait_idle(1)
    await lane.close()
    assert dropped == []
    with pytest.raises(LaneClosed):
        lane.submit(2)


# -- eager start ---------------------------------------------------------------------------------


async def test_an_eager_lane_runs_the_first_step_inside_submit() -> None:
    steps: list[str] = []
    answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def handle(item: int) -> None:
        steps.append(f"sent {item}")
        steps.append(await answer)

    lane: Lane[int] = Lane("t", handle, eager=True)
    lane.submit(1)
    assert steps == ["sent 1"]  # before this task yielded to the loop
    lane.submit(2)  # the lane is busy: queued behind the first
    assert steps == ["sent 1"] and lane.queued == 1
    answer.set_result("answered")
    assert await lane.wait_idle(1, poll_s=0.001)
    assert steps == ["sent 1", "answered", "sent 2", "answered"]
    await lane.close()


async def test_an_eager_lane_that_never_waits_leaves_no_task() -> None:
    seen: list[int] = []

    async def handle(item: int) -> None:
        seen.append(item)

    lane: Lane[int] = Lane("never-waits", handle, eager=True)
    lane.submit(1)
    lane.submit(2)
    assert seen == [1, 2] and lane.idle and lane_tasks("never-waits") == 0
    await lane.close()


async def test_an_eager_lane_keeps_order_when_its_first_step_submits_more() -> None:
    seen: list[int] = []
    lane: Lane[int]

    async def handle(item: int) -> None:
        seen.append(item)
        if item == 1:
            lane.submit(3)  # e.g. a replay queued by the CALL being handled: after it, not inside
            await asyncio.sleep(0)
            seen.append(-1)

    lane = Lane("t", handle, eager=True)
    lane.submit(1)
    lane.submit(2)
    assert seen == [1]
    assert await lane.wait_idle(1, poll_s=0.001)
    assert seen == [1, -1, 3, 2]
    await lane.close()


async def test_an_eager_lane_survives_a_failing_first_step_and_closes_mid_call() -> None:
    dropped: list[int] = []
    started = asyncio.Event()
    cancelled: list[int] = []

    async def handle(item: int) -> None:
        if item == 1:
            raise RuntimeError("boom")  # in submit's own step: logged, not raised to submit
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(item)
            raise

    lane: Lane[int] = Lane("t", handle, eager=True, on_drop=dropped.append)
    lane.submit(1)
    assert lane.idle
    lane.submit(2)
    lane.submit(3)
    assert started.is_set()
    await lane.close()
    assert cancelled == [2] and dropped == [2, 3]


async def test_a_forgotten_call_frees_its_id_and_its_late_answer_is_unknown() -> None:
    pending = PendingCalls()
    fut = pending.expect("f")
    pending.forget("f", fut)  # e.g. the CALL could not be sent
    assert "f" not in pending and len(pending) == 0
    assert pending.resolve("f", "late") is False
    again = pending.expect("f")  # the id may be used again
    pending.forget("f", fut)  # forgetting the earlier CALL leaves the new one alone
    assert "f" in pending
    assert pending.resolve("f", '[3,"f",{}]') is True
    assert await pending.wait("f", again, 1) == '[3,"f",{}]'
