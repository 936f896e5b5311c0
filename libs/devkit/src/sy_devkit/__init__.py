"""Development kit: embedded NATS and Postgres, the local suite launcher, pytest fixtures."""

from sy_devkit.embedded_nats import EmbeddedNats
from sy_devkit.embedded_postgres import EmbeddedPostgres
from sy_devkit.net import free_port, wait_for_port
from sy_devkit.suite import DEFAULT_HTTP_PORTS, DEFAULT_OCPP_PORT, SERVICES, Suite

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
