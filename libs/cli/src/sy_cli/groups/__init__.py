"""Command groups. Each module has `register(commands, common)`; add a module, then list it here."""

from sy_cli.groups import backends, exports, reconcile, routes, run, tokens, trace

GROUPS = (run, backends, routes, trace, tokens, exports, reconcile)
