"""Development kit: embedded NATS and Postgres, the local suite launcher, pytest fixtures.

Names are imported on first use (PEP 562), so `import sy_devkit.layout` stays instant for the CLI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sy_devkit.layout import DEFAULT_HTTP_PORTS, DEFAULT_OCPP_PORT, SERVICES

if TYPE_CHECKING:
    from sy_devkit.embedded_nats import EmbeddedNats
    from sy_devkit.embedded_postgres import EmbeddedPostgres
    from sy_devkit.net import free_port, wait_for_port
    from sy_devkit.suite import Suite

_LAZY = {
    "EmbeddedNats": "sy_devkit.embedded_nats",
    "EmbeddedPostgres": "sy_devkit.embedded_postgres",
    "Suite": "sy_devkit.suite",
    "free_port": "sy_devkit.net",
    "wait_for_port": "sy_devkit.net",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sy_devkit' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "DEFAULT_HTTP_PORTS",
    "DEFAULT_OCPP_PORT",
    "SERVICES",
    "EmbeddedNats",
    "EmbeddedPostgres",
    "Suite",
    "free_port",
    "wait_for_port",
]
