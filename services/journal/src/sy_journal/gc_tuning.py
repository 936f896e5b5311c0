"""The cyclic garbage collector, set for a process that allocates per frame and keeps little.

With CPython's defaults (a young collection every 700 net allocations) every batch's messages,
records, rows and events (some 20 objects per frame, alive until the batch commits) survive two
young collections and land in the oldest generation; each full collection then walks all of it,
and everything imported at start. That was 15-22 % of the journal's CPU in
`bench/micro/journal_ingest.py --mix fleet --frames 40000` (1.1-2.0 s of 6-9 s; 0.1 s now).
Young collections every 50,000 allocations let a batch die young, and what exists once the
service has imported its code (modules, classes, pydantic schemas) is moved out of the
collector's sight for good.
The journal makes few reference cycles (asyncio's, on errors): waiting longer for them costs a
few megabytes at most.
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 10)


def tune_gc() -> None:
    """Call once, after the imports and before serving (`python -m sy_journal` does)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
