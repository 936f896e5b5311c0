"""NATS over TLS when configured: a generated CA signs the server's and a service's client
certificate; the service connects with `sy_bus.connect` and its settings, and nothing without
the CA (or, when the server verifies clients, without a certificate) gets in."""

from __future__ import annotations

import ssl
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import nats
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sy_bus import connect, permissions
from sy_devkit.embedded_nats import EmbeddedNats, ServerTls
from sy_platform import ServiceSettings


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(path: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
    path.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _issue(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, cn: str, usage: x509.ObjectIdentifier
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if usage == ExtendedKeyUsageOID.SERVER_AUTH:
        san = [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki() -> Iterator[Path]:
    """ca.crt, server.crt/.key and client.crt/.key in a fresh directory."""
    with tempfile.TemporaryDirectory(prefix="sy-pki-") as tmp:
        root = Path(tmp)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        ca = (
            x509.CertificateBuilder()
            .subject_name(_name("switchyard test CA"))
            .issuer_name(_name("switchyard test CA"))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        _write(root / "ca", ca_key, ca)
        _write(root / "server", *_issue(ca_key, ca, "nats", ExtendedKeyUsageOID.SERVER_AUTH))
        _write(root / "client", *_issue(ca_key, ca, "sy-edge", ExtendedKeyUsageOID.CLIENT_AUTH))
        yield root


@pytest.fixture(scope="module")
def tls_nats(pki: Path) -> Iterator[EmbeddedNats]:
    tls = ServerTls(pki / "server.crt", pki / "server.key", client_ca_file=pki / "ca.crt")
    server = EmbeddedNats(pki / "store", tls=tls).start()
    yield server
    server.stop()


async def test_a_service_connects_over_tls_with_its_settings(
    tls_nats: EmbeddedNats, pki: Path
) -> None:
    settings = ServiceSettings(
        nats_url=tls_nats.plain_url,
        nats_user="sy-edge",
        nats_password=tls_nats.passwords["edge"],
        nats_tls_ca=str(pki / "ca.crt"),
        nats_tls_cert=str(pki / "client.crt"),
        nats_tls_key=str(pki / "client.key"),
    )
    assert tls_nats.plain_url.startswith("tls://")
    nc = await connect(
        settings.nats_url,
        "tls-probe",
        auth=settings.nats_auth(),
        inbox_prefix=permissions.inbox_prefix("edge"),
    )
    try:
        assert nc.is_connected
        assert nc.connected_url is not None
        assert nc._server_info.get("tls_required") is True  # what the server told us
        assert "secret" not in repr(settings) and tls_nats.passwords["edge"] not in repr(settings)
        await nc.publish("sy.presence.CP-TLS", b"{}")
        await nc.flush()
    finally:
        await nc.close()


@pytest.mark.parametrize("missing", ["ca", "client-certificate"])
async def test_without_the_ca_or_a_client_certificate_nothing_connects(
    tls_nats: EmbeddedNats, pki: Path, missing: str
) -> None:
    context = ssl.create_default_context(cafile=None if missing == "ca" else str(pki / "ca.crt"))
    # No CA: we refuse the server's certificate. No client certificate: the server refuses us
    # (a TLS alert, or a reset / broken pipe when it hangs up before we read the alert).
    expected = (
        (ssl.SSLCertVerificationError,) if missing == "ca" else (ssl.SSLError, ConnectionError)
    )
    with pytest.raises(expected) as refused:
        await nats.connect(
            tls_nats.connect_url("edge"),
            tls=context,
            allow_reconnect=False,
            max_reconnect_attempts=0,
            connect_timeout=3,
        )
    if missing == "client-certificate" and isinstance(refused.value, ssl.SSLError):
        assert "CERTIFICATE_REQUIRED" in str(refused.value)
