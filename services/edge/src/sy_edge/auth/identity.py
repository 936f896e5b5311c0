"""What a charger presented at the handshake: Basic credentials, a client certificate, TLS.

Direct: the Authorization header (RFC 7617) and the TLS peer certificate. Behind an ingress that
ends TLS: headers set by that proxy, believed only when the TCP peer is a configured trusted
proxy; from anyone else they are ignored and reported as spoofed.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from cryptography import x509
from cryptography.x509.oid import NameOID


@dataclass(frozen=True, slots=True)
class Presented:
    username: str | None = None
    password: str | None = None
    # Identities (CN, then SAN DNS names) of a certificate verified by us or a trusted proxy.
    cert_identities: tuple[str, ...] = ()
    secure: bool = False  # TLS between the charger and us or the trusted proxy
    via_proxy: bool = False
    spoofed_headers: tuple[str, ...] = field(default=())


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(username, password) from `Authorization: Basic ...`, or None if absent or unreadable."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def peer_cert_identities(cert: dict[str, Any] | None) -> tuple[str, ...]:
    """CN(s) then SAN DNS names of a certificate from `SSLObject.getpeercert()`."""
    if not cert:
        return ()
    names = [value for rdn in cert.get("subject", ()) for key, value in rdn if key == "commonName"]
    names += [value for kind, value in cert.get("subjectAltName", ()) if kind == "DNS"]
    return tuple(names)


def pem_cert_identities(header_value: str) -> tuple[str, ...]:
    """CN(s) then SAN DNS names of a URL-encoded PEM certificate (nginx, Traefik, Envoy XFCC)."""
    value = header_value.strip()
    if "Cert=" in value:  # Envoy x-forwarded-client-cert: By=...;Hash=...;Cert="<urlencoded>"
        for part in value.split(";"):
            key, _, item = part.partition("=")
            if key.strip() == "Cert":
                value = item.strip().strip('"')
    pem = unquote(value)
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return ()
    names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names += san.value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        pass
    return tuple(names)


class TrustedProxies:
    def __init__(self, cidrs: Sequence[str]) -> None:
        self._networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]

    def __bool__(self) -> bool:
        return bool(self._networks)

    def trusts(self, address: str | None) -> bool:
        if not address or not self._networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._networks)
