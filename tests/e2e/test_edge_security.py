"""Security profiles 1-3 with real TLS, refused credentials, the trusted-proxy mode, and the
credential life cycle (add, rotate, revoke) across edge replicas. Requirement ids are from the
OCPP 1.6 security whitepaper, edition 2 (repeated for 2.0.1 in Part 2 A00); docs/security.md."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import json
import os
import ssl
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from sy_devkit.net import free_port
from sy_devkit.pytest_plugin import RunningSuite
from sy_devkit.suite import ServiceProcess

HEARTBEAT = '[2,"hb","Heartbeat",{}]'

# -- a test PKI: a CPO CA, a server certificate for 127.0.0.1, charger certificates whose CN is
# the charger id (A00.FR.511) --------------------------------------------------------------------


def _name(cn: str, org: str = "Switchyard Test CPO") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def write(self, folder: Path, stem: str) -> tuple[Path, Path]:
        cert_path, key_path = folder / f"{stem}.pem", folder / f"{stem}.key"
        cert_path.write_bytes(self.pem())
        key_path.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_path, key_path

    def url_encoded(self) -> str:
        """As nginx's $ssl_client_escaped_cert puts it in a header."""
        return quote(self.pem().decode(), safe="")


class Authority:
    def __init__(self, name: str = "Switchyard Test CA") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, cn: str, *, server: bool = False) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        return Issued(builder.sign(self.key, hashes.SHA256()), key)


def client_context(ca: Authority, folder: Path, client: Issued | None = None) -> ssl.SSLContext:
    """What a charger uses: trusts the CA that signed the edge's certificate, TLS 1.2+."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    ca_path = folder / "trust.pem"
    ca_path.write_bytes(ca.pem())
    context.load_verify_locations(ca_path)
    if client is not None:
        cert, key = client.write(folder, f"client-{client.cert.serial_number}")
        context.load_cert_chain(cert, key)
    return context


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def _heartbeat(ws: ClientConnection) -> None:
    await ws.send(HEARTBEAT)
    answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert answer[:2] == [3, "hb"], answer


async def _refused(url: str, **kwargs: Any) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, subprotocols=["ocpp1.6"], open_timeout=10, **kwargs):  # type: ignore[list-item]
            pass
    return refused.value


async def _attempts(admin: httpx.AsyncClient, charger_id: str, *reasons: str) -> set[str]:
    """Refused attempts are written in batches off the handshake path: poll briefly."""
    seen: set[str] = set()
    for _ in range(50):
        rows = (await admin.get("/credentials/attempts", params={"charger_id": charger_id})).json()
        seen = {a["reason"] for a in rows}
        if set(reasons) <= seen:
            break
        await asyncio.sleep(0.1)
    return seen


def _cid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def pki() -> Iterator[tuple[Authority, Path]]:
    folder = Path(tempfile.mkdtemp(prefix="sy-pki-"))
    folder.chmod(0o755)
    yield Authority(), folder


@pytest.fixture(scope="module")
def tls_edge(routed: RunningSuite, pki: tuple[Authority, Path]) -> Iterator[ServiceProcess]:
    """An edge serving wss:// with a client CA (profiles 2 and 3 on one port)."""
    ca, folder = pki
    cert, key = ca.issue("127.0.0.1", server=True).write(folder, "server")
    (folder / "ca.pem").write_bytes(ca.pem())
    edge = routed.suite.start_service(
        "edge",
        free_port(),
        ocpp_port=free_port(),
        SY_TLS_CERT_FILE=str(cert),
        SY_TLS_KEY_FILE=str(key),
        SY_TLS_CLIENT_CA_FILE=str(folder / "ca.pem"),
        SY_ALLOW_UNAUTHENTICATED="false",
    )
    routed.suite.wait_ready(edge)
    yield edge
    edge.proc.terminate()
    edge.proc.wait(30)


@pytest.fixture(scope="module")
def proxy_edge(routed: RunningSuite) -> Iterator[ServiceProcess]:
    """An edge behind an ingress that ends TLS: only 127.0.0.2 is a trusted proxy."""
    edge = routed.suite.start_service(
        "edge",
        free_port(),
        ocpp_port=free_port(),
        SY_TRUSTED_PROXIES='["127.0.0.2/32"]',
        SY_PROXY_CERT_HEADER="X-Client-Cert",
        SY_PROXY_IDENTITY_HEADER="X-Client-CN",
        SY_ALLOW_UNAUTHENTICATED="false",
    )
    routed.suite.wait_ready(edge)
    yield edge
    edge.proc.terminate()
    edge.proc.wait(30)


@pytest.fixture
async def admin(routed: RunningSuite) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=routed.api("edge"), headers=routed.admin_headers, timeout=15
    ) as client:
        yield client


async def _add(admin: httpx.AsyncClient, charger_id: str, profile: int) -> str | None:
    created = await admin.post(
        "/credentials", json={"charger_id": charger_id, "security_profile": profile}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    return body["password"]  # type: ignore[no-any-return]


# -- profile 1: HTTP Basic over ws (A00.FR.202-205) -----------------------------------------------


async def test_profile_1_basic_auth_life_cycle(
    routed: RunningSuite, admin: httpx.AsyncClient
) -> None:
    cid = _cid("P1")
    url = routed.charger_url(cid)
    password = await _add(admin, cid, 1)
    assert password is not None and len(password) == 40  # 20 random bytes, hex (A00.FR.205)

    async with connect(
        url, subprotocols=["ocpp1.6"], additional_headers=_basic(cid, password)
    ) as ws:  # type: ignore[list-item]
        await _heartbeat(ws)

    for headers, _reason in [
        (_basic(cid, "not-the-password-at-all"), "wrong_password"),
        ({}, "password_required"),
        (_basic("someone-else", password), "username_mismatch"),  # A00.FR.204
    ]:
        refused = await _refused(url, additional_headers=headers)
        assert refused.response.status_code == 401
        assert refused.response.headers["WWW-Authenticate"].startswith("Basic")

    # The password is never shown again, and refused attempts are recorded without it.
    listed = (await admin.get("/credentials")).json()
    mine = next(c for c in listed if c["charger_id"] == cid)
    assert mine["has_password"] and "password" not in mine and mine["security_profile"] == 1
    reasons = {"wrong_password", "password_required", "username_mismatch"}
    assert reasons <= await _attempts(admin, cid, *reasons)
    attempts = (await admin.get("/credentials/attempts", params={"charger_id": cid})).json()
    assert password not in json.dumps(attempts) and "not-the-password" not in json.dumps(attempts)
    assert password not in routed.logs()

    # Rotation: the old password stops working on this replica at once, the new one works.
    rotated = await admin.post(f"/credentials/{cid}/rotate")
    assert rotated.status_code == 200, rotated.text
    new_password = rotated.json()["password"]
    assert new_password != password and rotated.json()["version"] == 2
    refused = await _refused(url, additional_headers=_basic(cid, password))
    assert refused.response.status_code == 401
    async with connect(
        url, subprotocols=["ocpp1.6"], additional_headers=_basic(cid, new_password)
    ) as ws:  # type: ignore[list-item]
        await _heartbeat(ws)
        # Revocation disconnects the charger wherever it is and refuses it from then on.
        assert (await admin.delete(f"/credentials/{cid}")).status_code == 204
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    refused = await _refused(url, additional_headers=_basic(cid, new_password))
    assert refused.response.status_code == 401


async def test_credentials_reach_every_replica(
    routed: RunningSuite, second_edge: ServiceProcess, admin: httpx.AsyncClient
) -> None:
    """Added on one replica's API, checked on another; rotated: the other replica's cache of the
    verified old password is dropped (sy.ctl.<charger> 'credentials')."""
    cid = _cid("P1R")
    password = await _add(admin, cid, 1)
    assert password is not None
    other = routed.charger_url(cid, port=second_edge.ocpp_port)
    async with connect(
        other, subprotocols=["ocpp1.6"], additional_headers=_basic(cid, password)
    ) as ws:  # type: ignore[list-item]
        await _heartbeat(ws)
    await admin.post(f"/credentials/{cid}/rotate")
    await asyncio.sleep(0.3)  # the control message crosses NATS
    refused = await _refused(other, additional_headers=_basic(cid, password))
    assert refused.response.status_code == 401


async def test_unauthenticated_access_is_a_policy(
    routed: RunningSuite, admin: httpx.AsyncClient
) -> None:
    """The suite's edge lets chargers without credentials in (SY_ALLOW_UNAUTHENTICATED, the
    local-suite default); a policy for an id pattern turns that off, and back on per charger."""
    group = f"LOCKED{uuid.uuid4().hex[:6]}"
    put = await admin.put(f"/policies/{group}-*", json={"allow_unauthenticated": False})
    assert put.status_code == 200, put.text
    refused = await _refused(routed.charger_url(f"{group}-1"))
    assert refused.response.status_code == 401
    assert (
        await admin.put(f"/policies/{group}-2", json={"allow_unauthenticated": True})
    ).is_success
    async with connect(routed.charger_url(f"{group}-2"), subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        await _heartbeat(ws)
    unknown = await _refused(
        routed.charger_url(f"{group}-1"), additional_headers=_basic(f"{group}-1", "x" * 20)
    )
    assert unknown.response.status_code == 401
    assert (await admin.delete(f"/policies/{group}-*")).status_code == 204
    assert (await admin.delete(f"/policies/{group}-2")).status_code == 204


async def test_credential_routes_need_admin(routed: RunningSuite) -> None:
    async with httpx.AsyncClient(base_url=routed.api("edge")) as anonymous:
        assert (await anonymous.get("/credentials")).status_code == 401
        assert (await anonymous.post("/credentials", json={"charger_id": "X"})).status_code == 401


# -- profile 2: TLS + Basic (A00.FR.301-304) ------------------------------------------------------


async def test_profile_2_tls_with_basic_auth(
    routed: RunningSuite,
    tls_edge: ServiceProcess,
    pki: tuple[Authority, Path],
    admin: httpx.AsyncClient,
) -> None:
    ca, folder = pki
    cid = _cid("P2")
    password = await _add(admin, cid, 2)
    assert password is not None
    wss = f"wss://127.0.0.1:{tls_edge.ocpp_port}/ocpp/{cid}"
    context = client_context(ca, folder)
    async with connect(
        wss, ssl=context, subprotocols=["ocpp1.6"], additional_headers=_basic(cid, password)
    ) as ws:  # type: ignore[list-item]
        await _heartbeat(ws)
    wrong = await _refused(wss, ssl=context, additional_headers=_basic(cid, "y" * 20))
    assert wrong.response.status_code == 401
    # The same credentials over plain ws are a lower profile than configured (A00.FR.002).
    plain = await _refused(routed.charger_url(cid), additional_headers=_basic(cid, password))
    assert plain.response.status_code == 401


# -- profile 3: TLS client certificate (A00.FR.401-407, A00.FR.511) -------------------------------


async def test_profile_3_client_certificate(
    tls_edge: ServiceProcess, pki: tuple[Authority, Path], admin: httpx.AsyncClient
) -> None:
    ca, folder = pki
    cid = _cid("P3")
    assert await _add(admin, cid, 3) is None  # no password for a certificate charger
    wss = f"wss://127.0.0.1:{tls_edge.ocpp_port}/ocpp/{cid}"
    own = client_context(ca, folder, ca.issue(cid))
    async with connect(wss, ssl=own, subprotocols=["ocpp2.0.1"]) as ws:  # type: ignore[list-item]
        await _heartbeat(ws)
    # Someone else's certificate (A00.FR.405) and no certificate at all are refused with 401.
    other = client_context(ca, folder, ca.issue("SOMEONE-ELSE"))
    assert (await _refused(wss, ssl=other)).response.status_code == 401
    bare = client_context(ca, folder)
    assert (await _refused(wss, ssl=bare)).response.status_code == 401
    # A certificate from another CA fails the TLS handshake itself (A00.FR.403, A00.FR.407).
    rogue = client_context(ca, folder, Authority("Rogue CA").issue(cid))
    # (With TLS 1.3 the client learns only when the edge drops the connection.)
    with pytest.raises((ssl.SSLError, OSError, ConnectionClosed, InvalidHandshake)):
        async with connect(wss, ssl=rogue, subprotocols=["ocpp1.6"], open_timeout=5) as ws:  # type: ignore[list-item]
            await ws.send(HEARTBEAT)
            await ws.recv()


# -- trusted proxy: TLS ended at the ingress ------------------------------------------------------


async def test_trusted_proxy_headers_only_from_the_proxy(
    proxy_edge: ServiceProcess, pki: tuple[Authority, Path], admin: httpx.AsyncClient
) -> None:
    ca, _ = pki
    cid = _cid("PX")
    await _add(admin, cid, 3)
    url = f"ws://127.0.0.1:{proxy_edge.ocpp_port}/ocpp/{cid}"
    from_proxy = {"local_addr": ("127.0.0.2", 0)}
    cert_header = {"X-Client-Cert": ca.issue(cid).url_encoded()}
    async with connect(
        url, subprotocols=["ocpp1.6"], additional_headers=cert_header, **from_proxy
    ) as ws:  # type: ignore[list-item, arg-type]
        await _heartbeat(ws)
    async with connect(
        url, subprotocols=["ocpp1.6"], additional_headers={"X-Client-CN": cid}, **from_proxy
    ) as ws:  # type: ignore[list-item, arg-type]
        await _heartbeat(ws)
    # The same headers from anyone but the proxy are a spoof: ignored, refused, recorded.
    for spoof in (cert_header, {"X-Client-CN": cid}):
        refused = await _refused(url, additional_headers=spoof)
        assert refused.response.status_code == 401
    assert "spoofed_header" in await _attempts(admin, cid, "spoofed_header")
    # A certificate for another charger, even from the proxy, is refused.
    wrong = {"X-Client-Cert": ca.issue("NOT-" + cid).url_encoded()}
    refused = await _refused(url, additional_headers=wrong, **from_proxy)
    assert refused.response.status_code == 401


async def test_profile_2_behind_the_proxy(
    proxy_edge: ServiceProcess, admin: httpx.AsyncClient
) -> None:
    cid = _cid("PX2")
    password = await _add(admin, cid, 2)
    assert password is not None
    url = f"ws://127.0.0.1:{proxy_edge.ocpp_port}/ocpp/{cid}"
    tls_said = {**_basic(cid, password), "X-Forwarded-Proto": "https"}
    async with connect(
        url, subprotocols=["ocpp1.6"], additional_headers=tls_said, local_addr=("127.0.0.2", 0)
    ) as ws:  # type: ignore[list-item]
        await _heartbeat(ws)
    # Claiming TLS from an untrusted address does not make the connection secure.
    refused = await _refused(url, additional_headers=tls_said)
    assert refused.response.status_code == 401


# -- the CLI: switchyard charger add | rotate | revoke | list -------------------------------------


def _cli(routed: RunningSuite, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SY_EDGE_URL": routed.api("edge"),
        "SY_API_TOKEN": routed.admin_headers["Authorization"].removeprefix("Bearer "),
        "SY_STATE_DIR": "/nonexistent",
    }
    return subprocess.run(
        [str(Path(sys.executable).parent / "switchyard"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_cli_charger_credentials(routed: RunningSuite) -> None:
    cid = _cid("CLI")
    added = await asyncio.to_thread(_cli, routed, "charger", "add", cid, "--profile", "1")
    assert added.returncode == 0, added.stderr
    password = added.stdout.split("password: ", 1)[1].split()[0]
    assert len(password) == 40 and "not shown again" in added.stdout
    async with connect(
        routed.charger_url(cid), subprotocols=["ocpp1.6"], additional_headers=_basic(cid, password)
    ) as ws:  # type: ignore[list-item]
        await _heartbeat(ws)
    listed = await asyncio.to_thread(_cli, routed, "charger", "list")
    assert cid in listed.stdout and password not in listed.stdout
    rotated = await asyncio.to_thread(_cli, routed, "charger", "rotate", cid, "--json")
    assert json.loads(rotated.stdout)["password"] != password
    revoked = await asyncio.to_thread(_cli, routed, "charger", "revoke", cid)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    again = await asyncio.to_thread(_cli, routed, "charger", "revoke", cid)
    assert again.returncode == 1 and "no active credentials" in again.stderr
    short = await asyncio.to_thread(
        _cli, routed, "charger", "add", _cid("CLI"), "--password", "short"
    )
    assert short.returncode == 1 and "16 to 40" in short.stderr
