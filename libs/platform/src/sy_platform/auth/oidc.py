"""OIDC bearer JWTs, verified against the identity provider's JWKS (fetched and cached)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt

from sy_platform.auth.roles import Principal, Role

JWKS_TTL_S = 300.0
# An unknown kid may mean the provider rotated its keys, or a caller made it up: refetch for
# one at most this often, so anonymous requests cannot make us hammer the provider.
UNKNOWN_KID_REFETCH_S = 30.0
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


class OidcVerifier:
    def __init__(
        self,
        jwks_url: str,
        issuer: str | None,
        audience: str | None,
        roles_claim: str,
        *,
        unknown_kid_refetch_s: float = UNKNOWN_KID_REFETCH_S,
    ) -> None:
        self._jwks_url = jwks_url
        self._unknown_kid_refetch_s = unknown_kid_refetch_s
        self._issuer = issuer
        self._audience = audience
        self._roles_claim = roles_claim
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0

    async def _key(self, kid: str) -> jwt.PyJWK | None:
        age = time.monotonic() - self._fetched_at
        stale = age > JWKS_TTL_S
        rotated = kid not in self._keys and age > self._unknown_kid_refetch_s
        if stale or rotated:
            async with httpx.AsyncClient(timeout=5) as client:
                response = await client.get(self._jwks_url)
                response.raise_for_status()
            keys = {}
            for doc in response.json().get("keys", []):
                if "kid" in doc:
                    try:
                        keys[doc["kid"]] = jwt.PyJWK(doc)
                    except jwt.PyJWTError:
                        continue  # a key type we do not use
            self._keys, self._fetched_at = keys, time.monotonic()
        return self._keys.get(kid)

    async def verify(self, token: str) -> Principal | str:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return "not a JWT"
        try:
            key = await self._key(str(header.get("kid", "")))
        except (httpx.HTTPError, ValueError) as exc:
            return f"cannot fetch the identity provider's keys ({exc.__class__.__name__})"
        if key is None:
            return "JWT signed with an unknown key"
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "sub"], "verify_aud": self._audience is not None},
            )
        except jwt.ExpiredSignatureError:
            return "JWT expired"
        except jwt.PyJWTError as exc:
            return f"JWT refused: {exc}"
        raw = claims.get(self._roles_claim, [])
        names = raw.split() if isinstance(raw, str) else list(raw) if isinstance(raw, list) else []
        roles = frozenset(Role(r) for r in names if r in Role.__members__.values())
        return Principal(str(claims["sub"]), "oidc", roles)
