"""Command groups. Each module has `register(commands, common)`; add a module, then list it here."""

from sy_cli.groups import (
    backends,
    bench,
    chargers,
    demo,
    estate,
    evidence,
    exports,
    fleet,
    reconcile,
    routes,
    run,
    shards,
    tokens,
    trace,
    wave,
)

GROUPS = (
    run,
    backends,
    routes,
    shards,
    fleet,
    trace,
    tokens,
    exports,
    reconcile,
    chargers,
    bench,
    wave,
    estate,
    evidence,
    demo,
)
