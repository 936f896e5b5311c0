"""The cyclic garbage collector, set for a service that allocates per frame and keeps little.

Every service runs with it (`sy_platform.cli.service_main`, after the app is built). It was
measured first in the journal:

With CPython's defaults (a young collection every 700 net allocations) every batch's messages,
records, rows and events (some 20 objects per frame, alive until the batch commits) survive two
young collections and land in the oldest generation; each full collection then walks all of it,
and everything imported at start. That was 15-22 % of the journal's CPU in
`bench/micro/journal_ingest.py --mix fleet --frames 40000` (1.1-2.0 s of 6-9 s; 0.1 s now).
Young collections every 50,000 allocations let a batch die young, and what exists once the
service has imported its code (modules, classes, pydantic schemas) is moved out of the
collector's sight for good.
The edge and the connectors keep per-charger objects that live long (sessions, links, sockets);
a charger's objects that form cycles once it is gone (bound methods of its lanes) are freed by
the full collections, which CPython runs when the oldest generation has grown by a quarter since
the last one, with these thresholds as with the defaults.
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 10)


def tune_gc() -> None:
    """Call once, after the imports and before serving (`service_main` does)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
