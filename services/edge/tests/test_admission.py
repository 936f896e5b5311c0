"""Handshake admission in a reconnect storm: slots given in order, each kept for its charger."""

from __future__ import annotations

import math

import pytest

from sy_edge.admission import HOLD_S, HORIZON_S, Admission


def storm(admission: Admission, chargers: list[str], now: float) -> dict[str, int | None]:
    return {cid: admission.admit(cid, now) for cid in chargers}


def test_the_burst_is_admitted_at_once_and_the_rest_get_slots_spread_at_the_rate() -> None:
    admission = Admission(rate=100, burst=50, jitter_s=10)
    answers = storm(admission, [f"CP{i}" for i in range(1050)], now=1000.0)
    admitted = [cid for cid, wait in answers.items() if wait is None]
    assert len(admitted) == 50
    waits = [wait for wait in answers.values() if wait is not None]
    # 1,000 refused at 100/s: told 1 s, 2 s, ... 10 s, a hundred per second, in arrival order
    assert waits == sorted(waits)
    assert waits[0] == 1 and waits[-1] == 10
    assert all(waits.count(s) == 100 for s in range(1, 11))
    assert admission.waiting == 1000


def test_a_charger_that_comes_back_when_told_is_admitted_and_newcomers_queue_behind() -> None:
    admission = Admission(rate=10, burst=1, jitter_s=0)
    assert admission.admit("first", 0.0) is None
    told = admission.admit("second", 0.0)
    assert told == 1
    # a newcomer in the meantime does not take the second charger's turn
    assert admission.admit("newcomer", 0.05) == 1
    assert admission.admit("second", 0.0 + told) is None
    assert admission.waiting == 1


def test_a_charger_back_too_early_keeps_its_place_and_is_told_the_time_left() -> None:
    admission = Admission(rate=1, burst=1, jitter_s=0)
    admission.admit("a", 0.0)
    assert admission.admit("b", 0.0) == 1
    assert admission.admit("c", 0.0) == 2
    assert admission.admit("c", 0.2) == 2  # ignores Retry-After: told again, same slot
    assert admission.admit("c", 1.4) == 1
    assert admission.admit("b", 1.0) is None
    assert admission.admit("c", 2.0) is None
    assert admission.waiting == 0


def test_the_storm_drains_at_the_rate_with_every_refused_charger_refused_once() -> None:
    rate, burst, n = 200.0, 400, 5000
    admission = Admission(rate=rate, burst=burst, jitter_s=10)
    chargers = [f"CP{i}" for i in range(n)]
    # they all arrive within the first second, then come back exactly when told
    returns: dict[float, list[str]] = {}
    admitted_at: dict[str, float] = {}
    refusals = 0
    for i, cid in enumerate(chargers):
        now = i / n
        wait = admission.admit(cid, now)
        if wait is None:
            admitted_at[cid] = now
        else:
            refusals += 1
            returns.setdefault(now + wait, []).append(cid)
    for at in sorted(returns):
        for cid in returns[at]:
            assert admission.admit(cid, at) is None, cid
            admitted_at[cid] = at
    assert len(admitted_at) == n
    assert refusals == n - len([t for t in admitted_at.values() if t < 1.0])
    last = max(admitted_at.values())
    # by construction (n - burst) / rate = 23 s, plus under 1 s of rounding up to whole seconds
    assert (n - burst) / rate <= last <= (n - burst) / rate + 1.5


def test_slots_of_chargers_that_never_came_back_are_forgotten() -> None:
    admission = Admission(rate=1, burst=1, jitter_s=0)
    admission.admit("a", 0.0)
    for i in range(5):
        admission.admit(f"gone-{i}", 0.0)
    assert admission.waiting == 5
    later = 5 + HOLD_S + 1
    assert admission.admit("late", later) is None  # the queue is long past
    assert admission.waiting == 0
    # one that comes back after its slot was forgotten is a newcomer again
    assert admission.admit("gone-0", later) == 1


def test_no_slot_is_given_beyond_the_horizon() -> None:
    rate = 10.0
    admission = Admission(rate=rate, burst=1, jitter_s=5)
    flood = int(HORIZON_S * rate) + 50
    waits = [admission.admit(f"made-up-{i}", 0.0) for i in range(flood)]
    assert admission.waiting == int(HORIZON_S * rate)  # the rest got no reservation
    beyond = [w for w in waits[-40:] if w is not None]
    assert len(beyond) == 40
    assert all(math.ceil(HORIZON_S) <= w <= math.ceil(HORIZON_S) + 5 for w in beyond)


def test_refusals_without_a_slot_say_when_the_queue_is_through_plus_jitter() -> None:
    admission = Admission(rate=10, burst=1, jitter_s=3)
    assert 1 <= admission.retry_later(0.0) <= 4  # nothing queued
    for i in range(101):
        admission.admit(f"CP{i}", 0.0)
    assert 11 <= admission.retry_later(0.0) <= 14  # the last slot is at 10.0 s, the next 10.1


@pytest.mark.parametrize(("rate", "burst"), [(0, 10), (-1, 10), (10, 0)])
def test_a_rate_or_burst_that_admits_nobody_is_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="rate > 0 and a burst >= 1"):
        Admission(rate=rate, burst=burst, jitter_s=0)
