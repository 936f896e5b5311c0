"""Which chargers move next: the wave's rate limit, and never a charger in a transaction.

Pure code. The controller calls `next_batch` on every tick with the chargers still to move, the
ones the connectors report with an open transaction, and the time since the last batch. A busy
charger is skipped and retried on a later tick: the data plane would pin its transaction to the
old backend anyway (invariant 6), but a session that starts on one CSMS and is billed by another
is exactly what an operator wants to avoid during a wave.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Batch:
    move: list[str]
    busy: list[str]  # skipped this time: a transaction is open


def allowance(per_second: float, elapsed_s: float, max_in_flight: int) -> int:
    """How many chargers may move now: the rate times the time since the last batch, at most
    `max_in_flight` per routing change."""
    return max(0, min(max_in_flight, math.floor(per_second * elapsed_s + 1e-9)))


def next_batch(pending: Iterable[str], busy: set[str], budget: int) -> Batch:
    move: list[str] = []
    skipped: list[str] = []
    for charger in pending:
        if charger in busy:
            skipped.append(charger)
        elif len(move) < budget:
            move.append(charger)
    return Batch(move, skipped)


def progress(moved: int, total: int) -> str:
    """'120/400 (30%)', as the CRD's Progress column shows it."""
    share = round(100 * moved / total) if total else 0
    return f"{moved}/{total} ({share}%)"
