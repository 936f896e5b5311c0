"""The handshake decision for one charger, as a pure function (docs/security.md).

Requirement ids are from the OCPP 1.6 security whitepaper (edition 2), which OCPP 2.0.1 Part 2
A00 / A02 repeats for 2.0.1: profile 1 = HTTP Basic (A00.FR.202-205), profile 2 = TLS + Basic
(A00.FR.301-304), profile 3 = TLS with a client certificate whose CN is the charger identity
(A00.FR.401-405, A00.FR.511). The Basic username is the charger identity (A00.FR.204 / 303).
A charger connecting with a lower profile than configured is refused (A00.FR.002); a higher one
is accepted, because raising the profile (A00.FR.005) means the charger reconnects with the new
profile before the operator updates its record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sy_edge.auth.identity import Presented


@dataclass(frozen=True, slots=True)
class StoredCredential:
    security_profile: int
    password_hash: str | None
    version: int
    revoked: bool


@dataclass(frozen=True, slots=True)
class Verdict:
    accepted: bool
    reason: str  # refused: a short code (metric label, auth_attempts.reason); accepted: how
    detail: str = ""
    profile: int = 0  # the profile the charger actually used (0: unauthenticated)
    password_check: bool = False  # accepted only if the password verifies (done by the caller)


def refuse(reason: str, detail: str) -> Verdict:
    return Verdict(False, reason, detail)


def decide(
    charger_id: str,
    presented: Presented,
    credential: StoredCredential | None,
    allow_unauthenticated: bool,
    *,
    spoofed_detail: Callable[[], str] = lambda: "",
) -> Verdict:
    """Everything but the (slow) password hash check, which `password_check` asks for."""
    if presented.cert_identities and charger_id not in presented.cert_identities:
        # A00.FR.405 / A00.FR.407: the certificate must belong to this charger.
        return refuse(
            "certificate_mismatch",
            f"certificate is for {', '.join(presented.cert_identities)[:80]}, not {charger_id}",
        )
    has_cert = charger_id in presented.cert_identities
    if credential is not None and credential.revoked:
        return refuse("revoked", "the charger's credentials were revoked")
    if credential is None:
        if has_cert:
            return Verdict(True, "certificate", profile=3)
        if presented.password is not None:
            return refuse("unknown_charger", "credentials presented for a charger with none")
        if allow_unauthenticated:
            return Verdict(True, "unauthenticated", profile=0)
        if presented.spoofed_headers:
            return refuse("spoofed_header", spoofed_detail())
        return refuse("no_credentials", "no credentials presented")
    wanted = credential.security_profile
    if wanted >= 3:
        if has_cert:
            return Verdict(True, "certificate", profile=3)
        if presented.spoofed_headers:
            return refuse("spoofed_header", spoofed_detail())
        return refuse("certificate_required", "security profile 3 needs a client certificate")
    if has_cert:  # a stronger profile than configured is fine
        return Verdict(True, "certificate", profile=3)
    if wanted == 2 and not presented.secure:
        return refuse("tls_required", "security profile 2 needs TLS")
    if presented.password is None:
        return refuse("password_required", f"security profile {wanted} needs HTTP Basic auth")
    if presented.username != charger_id:
        return refuse("username_mismatch", "the Basic username must be the charger id")
    if credential.password_hash is None:
        return refuse("no_password", "no password is set for this charger")
    return Verdict(True, "password", profile=2 if presented.secure else 1, password_check=True)
