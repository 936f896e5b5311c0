"""Connecting to NATS the same way in every service."""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass

import nats
from nats.aio.client import DEFAULT_INBOX_PREFIX, Client

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NatsAuth:
    """How a service proves who it is to NATS, and how it checks the server (TLS)."""

    user: str | None = None
    password: str | None = None
    token: str | None = None
    creds_file: str | None = None  # decentralised auth: a user JWT + NKey seed file
    tls_ca: str | None = None  # PEM CA bundle that signed the server's certificate
    tls_cert: str | None = None  # PEM client certificate, when the server verifies clients
    tls_key: str | None = None

    def tls_context(self) -> ssl.SSLContext | None:
        if not (self.tls_ca or self.tls_cert):
            return None
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.tls_ca)
        if self.tls_cert:
            context.load_cert_chain(self.tls_cert, self.tls_key)
        return context


async def connect(
    url: str,
    name: str,
    auth: NatsAuth | None = None,
    inbox_prefix: str | None = None,
    reconnect_attempts: int = -1,
) -> Client:
    """A NATS connection that reconnects forever: a broker restart must not kill a service.

    `inbox_prefix` (see `sy_bus.permissions.inbox_prefix`) is where replies arrive; a service's
    NATS user may subscribe only under its own prefix. A one-shot tool gives up after
    `reconnect_attempts` instead.
    """

    async def on_error(exc: Exception) -> None:
        log.warning("nats error: %s", exc)

    async def on_disconnect() -> None:
        log.warning("nats disconnected")

    async def on_reconnect() -> None:
        log.info("nats reconnected")

    auth = auth or NatsAuth()
    options: dict[str, object] = {}
    if auth.user:
        options["user"], options["password"] = auth.user, auth.password or ""
    if auth.token:
        options["token"] = auth.token
    if auth.creds_file:
        options["user_credentials"] = auth.creds_file
    tls = auth.tls_context()
    if tls is not None:
        options["tls"] = tls
    return await nats.connect(
        servers=[u.strip() for u in url.split(",")],
        name=name,
        max_reconnect_attempts=reconnect_attempts,
        reconnect_time_wait=0.5,
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        pending_size=64 * 1024 * 1024,
        inbox_prefix=(inbox_prefix or DEFAULT_INBOX_PREFIX.decode()).encode(),
        **options,
    )
