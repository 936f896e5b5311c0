"""Charger passwords (the OCPP AuthorizationKey): generated, hashed with scrypt, verified.

The 1.6 security whitepaper A00.FR.205 / A00.FR.304 asks for at least 16 random bytes and allows
up to 40 characters; `generate` gives 20 random bytes as 40 hex digits, which every charger
accepts as an AuthorizationKey. Hashes carry their parameters (`scrypt$n$r$p$salt$hash`), so the
cost can be raised later without invalidating stored hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

N, R, P = 2**14, 8, 1
_MAXMEM = 64 * 1024 * 1024
MIN_LENGTH = 16  # A00.FR.205: minimal 16 bytes
MAX_LENGTH = 40  # A00.FR.205: at most 40 hexadecimal digits (20 bytes)


def generate() -> str:
    """A new password: 20 random bytes as 40 lowercase hex digits."""
    return secrets.token_hex(20)


def check_chosen(password: str) -> str | None:
    """Why an operator-chosen password cannot be used, or None when it can."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        return f"a charger password has {MIN_LENGTH} to {MAX_LENGTH} characters (A00.FR.205)"
    if not password.isascii() or not password.isprintable():
        return "a charger password is printable ASCII"
    return None


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, maxmem=_MAXMEM)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify(password: str, stored: str) -> bool:
    """Whether `password` matches `stored` (constant-time compare; slow on purpose)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_MAXMEM,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def secret_digest(password: str) -> bytes:
    """A fast digest of a presented secret: the key of the verified-password cache, so the
    cache holds no password. Fine as a cache key only, never as a stored hash."""
    return hashlib.sha256(password.encode()).digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
