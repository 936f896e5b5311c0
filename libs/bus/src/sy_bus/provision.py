"""`python -m sy_bus.provision`: create or update every stream and KV bucket of the bus.

Run it as the NATS admin user, before the services start and after every upgrade (the Helm chart's
provisioning hook Job does; `switchyard run` and the test suite do it for you). The services'
own users may not create or change streams; each service only checks that they exist.

It reads the services' settings: SY_NATS_URL (credentials may be in the URL), SY_NATS_USER and
SY_NATS_PASSWORD (or SY_NATS_TOKEN, SY_NATS_CREDS) and, for TLS, SY_NATS_TLS_CA, SY_NATS_TLS_CERT
and SY_NATS_TLS_KEY. It prints one line per stream and bucket (created, updated or unchanged) and
never a credential.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping, Sequence

from sy_bus import streams
from sy_bus.connection import NatsAuth, connect

DEFAULT_URL = "nats://127.0.0.1:4222"


def auth_from_env(environ: Mapping[str, str] = os.environ) -> NatsAuth:
    def get(name: str) -> str | None:
        return environ.get(f"SY_NATS_{name}") or None

    return NatsAuth(
        user=get("USER"),
        password=get("PASSWORD"),
        token=get("TOKEN"),
        creds_file=get("CREDS"),
        tls_ca=get("TLS_CA"),
        tls_cert=get("TLS_CERT"),
        tls_key=get("TLS_KEY"),
    )


async def run(url: str, auth: NatsAuth, timeout_s: float = 10.0) -> list[str]:
    nc = await connect(url, "sy-provision", auth=auth, reconnect_attempts=3)
    try:
        return await streams.provision(nc.jetstream(timeout=timeout_s))
    finally:
        await nc.close()


def _redacted(text: str, environ: Mapping[str, str]) -> str:
    secrets = [environ.get(n, "") for n in ("SY_NATS_PASSWORD", "SY_NATS_TOKEN", "SY_NATS_URL")]
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def main(argv: Sequence[str] = (), environ: Mapping[str, str] = os.environ) -> int:
    if argv:
        print(f"usage: {streams.PROVISION_COMMAND} (settings from SY_NATS_*)", file=sys.stderr)
        return 2
    try:
        done = asyncio.run(run(environ.get("SY_NATS_URL") or DEFAULT_URL, auth_from_env(environ)))
    except Exception as exc:  # a hook Job reports and exits non-zero; Kubernetes retries it
        reason = _redacted(f"{type(exc).__name__}: {exc}", environ)
        print(
            f"bus provisioning failed: {reason} (it needs the NATS admin user, with JetStream on)",
            file=sys.stderr,
        )
        return 1
    for line in done:
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
