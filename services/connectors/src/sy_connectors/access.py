"""Reaching a backend as it requires: credentials by reference, TLS, and a dial rate limit.

Secrets are never in the routing table: a reference names where the connectors read them,
`env:NAME` (an environment variable, e.g. from a Kubernetes Secret) or `file:/path` (a mounted
Secret file). They are read when dialling, so a rotated Secret is used on the next dial.
"""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
import time
from pathlib import Path

from sy_bus import BackendAuth


class SecretUnavailable(Exception):
    """A secret reference that cannot be read (says which reference, never the secret)."""


def resolve(ref: str) -> str:
    kind, _, where = ref.partition(":")
    if kind == "env":
        value = os.environ.get(where)
        if value is None:
            raise SecretUnavailable(f"environment variable {where} is not set")
        return value
    if kind == "file":
        try:
            return Path(where).read_text().strip()
        except OSError as exc:
            raise SecretUnavailable(f"cannot read {where}: {exc.strerror}") from None
    raise SecretUnavailable(f"unknown secret reference kind {kind!r} (use env: or file:)")


def _file_of(ref: str) -> str:
    """Certificates and keys are loaded by path: `file:` only."""
    kind, _, where = ref.partition(":")
    if kind != "file":
        raise SecretUnavailable(f"certificates and keys need a file: reference, got {kind}:")
    return where


def headers_for(auth: BackendAuth) -> dict[str, str]:
    if auth.kind != "basic" or not auth.username:
        return {}
    password = resolve(auth.password_ref) if auth.password_ref else ""
    pair = base64.b64encode(f"{auth.username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def ssl_for(url: str, auth: BackendAuth) -> ssl.SSLContext | None:
    if not url.startswith("wss://"):
        return None
    context = ssl.create_default_context(cafile=_file_of(auth.ca_ref) if auth.ca_ref else None)
    if auth.kind == "mtls" and auth.cert_ref and auth.key_ref:
        context.load_cert_chain(_file_of(auth.cert_ref), _file_of(auth.key_ref))
    return context


class DialGate:
    """At most `rate` new connections per second to one backend, across all its chargers: a
    reconnecting fleet must not knock over the backend it is migrating to."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + 1.0 / self.rate
        if delay > 0:
            await asyncio.sleep(delay)
