"""Known secrets go through the running suite, then every place that keeps text is searched for
them: every log line of every service process (and of NATS), every row of every service's
schema (the journal's frames included), and every message kept on the bus (frames, events,
audit). None may be found.

The secrets: the bootstrap admin token, a named API token, a bogus token a caller tried, each
service's NATS and database password, and a charger's Basic-auth password in its handshake."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]
import httpx
import nats
import websockets
from nats.js.api import DeliverPolicy

from sy_bus import streams
from sy_devkit.auth import TEST_ADMIN_TOKEN
from sy_devkit.embedded_nats import EmbeddedNats
from sy_devkit.pytest_plugin import RunningSuite
from sy_devkit.suite import SERVICES
from sy_platform.auth.tokens import split

CHARGER_PASSWORD = f"charger-pw-{uuid.uuid4().hex}"
BOGUS_TOKEN = f"sy_{uuid.uuid4().hex[:12]}_bogus-{uuid.uuid4().hex}"


def _secrets(suite: RunningSuite, nats_server: EmbeddedNats, api_token: str) -> dict[str, str]:
    parts = split(api_token)
    assert parts is not None
    found = {
        "bootstrap token": TEST_ADMIN_TOKEN,
        "API token": api_token,
        "API token secret": parts[1],
        "bogus token": BOGUS_TOKEN,
        "charger password": CHARGER_PASSWORD,
    }
    for name, password in nats_server.passwords.items():
        found[f"NATS password of {name}"] = password
    for service, url in suite.suite.database_urls.items():
        password = urlsplit(url).password
        assert password, f"{service} connects with a password"
        found[f"database password of {service}"] = password
    return found


def _hits(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, secret in secrets.items() if secret in text]


async def _use_the_secrets(suite: RunningSuite, api_token: str) -> None:
    headers = {"Authorization": f"Bearer {api_token}"}
    async with httpx.AsyncClient(timeout=10) as client:
        for service in SERVICES:
            base = suite.api(service)
            await client.get(f"{base}/audit", headers=headers)
            await client.get(f"{base}/audit", headers={"Authorization": f"Bearer {BOGUS_TOKEN}"})
            await client.post(f"{base}/audit", headers=headers, json={"token": api_token})
        routing = suite.api("routing")
        await client.put(
            f"{routing}/routes/chargers/CP-secret-probe",
            headers=headers,
            json={"primary": "legacy", "reason": "secrets scan"},
        )
        await client.put(
            f"{routing}/routes/default",
            headers={"Authorization": f"Bearer {BOGUS_TOKEN}"},
            json={"primary": "legacy", "reason": "refused"},
        )
    basic = base64.b64encode(f"CP-secret:{CHARGER_PASSWORD}".encode()).decode()
    with contextlib.suppress(Exception):  # refused or not, the handshake was seen by the edge
        async with websockets.connect(
            suite.charger_url("CP-secret"),
            subprotocols=[websockets.Subprotocol("ocpp1.6")],
            additional_headers={"Authorization": f"Basic {basic}"},
            open_timeout=5,
        ) as ws:
            await ws.send('[2,"secret-1","Heartbeat",{}]')
            await asyncio.wait_for(ws.recv(), 10)


def _log_files(suite: RunningSuite, nats_server: EmbeddedNats) -> Iterator[tuple[str, str]]:
    log_dir = suite.suite.log_dir
    assert log_dir is not None
    for path in sorted(log_dir.glob("*.log")):
        yield path.name, path.read_text(errors="replace")
    yield "nats-server.log", (nats_server.store_dir / "nats-server.log").read_text(errors="replace")


async def _rows(database_url: str) -> Iterator[tuple[str, str]]:
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetch(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY($1::text[])",
            list(SERVICES),
        )
        found = []
        for table in tables:
            where = f'"{table["schemaname"]}"."{table["tablename"]}"'
            for row in await conn.fetch(f"SELECT t::text AS row FROM {where} t"):
                found.append((where, str(row["row"])))
        return iter(found)
    finally:
        await conn.close()


async def _bus_messages(nats_url: str) -> list[tuple[str, str]]:
    nc = await nats.connect(nats_url)
    found = []
    try:
        js = nc.jetstream()
        for spec in (streams.FRAMES, streams.EVENTS, streams.AUDIT):
            info = await js.stream_info(spec.name)
            if not info.state.messages:
                continue
            sub = await js.subscribe(
                spec.subjects[0],
                stream=spec.name,
                ordered_consumer=True,
                deliver_policy=DeliverPolicy.ALL,
            )
            try:
                for _ in range(info.state.messages):
                    try:
                        msg = await sub.next_msg(timeout=2)
                    except nats.errors.TimeoutError:
                        break
                    text = msg.data.decode(errors="replace") + repr(msg.headers or {})
                    found.append((f"{spec.name} {msg.subject}", text))
            finally:
                await sub.unsubscribe()
    finally:
        await nc.close()
    return found


async def test_no_secret_in_logs_database_or_bus(
    routed: RunningSuite, nats_server: EmbeddedNats
) -> None:
    async with httpx.AsyncClient(base_url=routed.api("routing"), headers=routed.admin_headers) as c:
        made = await c.post(
            "/tokens", json={"name": f"secret-{uuid.uuid4().hex[:8]}", "roles": ["operator"]}
        )
    assert made.status_code == 201, made.text
    api_token = made.json()["token"]
    await asyncio.sleep(0.3)  # every service learns the token
    await _use_the_secrets(routed, api_token)
    await asyncio.sleep(2)  # frames reach the journal, logs are flushed

    secrets = _secrets(routed, nats_server, api_token)
    lines = [
        (f"log {name}", line)
        for name, text in _log_files(routed, nats_server)
        for line in text.splitlines()
    ]
    rows = [(f"row of {where}", row) for where, row in await _rows(routed.database_url)]
    messages = [(f"bus {where}", m) for where, m in await _bus_messages(routed.nats_url)]
    # The scan saw what it should: service logs, the journal's frames, the audit trail.
    assert len(lines) > 50 and any("journal" in where for where, _ in rows), "nothing scanned?"
    assert any("SY_AUDIT" in where for where, _ in messages)
    leaks = [
        f"{where}: {hits}: {text[:300]}"
        for where, text in (*lines, *rows, *messages)
        if (hits := _hits(text, secrets))
    ]
    assert not leaks, "secrets found:\n" + "\n".join(leaks)


async def test_an_api_token_in_a_field_named_like_a_secret_is_redacted_in_the_audit(
    routed: RunningSuite,
) -> None:
    """A reason is free text and kept as written; but any field whose name says secret, token or
    password is redacted before the audit trail stores it."""
    async with httpx.AsyncClient(base_url=routed.api("routing"), headers=routed.admin_headers) as c:
        made = await c.post(
            "/tokens", json={"name": f"audited-{uuid.uuid4().hex[:8]}", "roles": ["viewer"]}
        )
        assert made.status_code == 201
        trail = await c.get("/audit", params={"resource": "token/"})
    assert made.json()["token"] not in trail.text
    assert all(e["after"].get("token", "***") == "***" for e in trail.json() if e["after"])
