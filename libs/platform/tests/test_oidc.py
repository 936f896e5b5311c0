"""OIDC bearer JWTs against a real JWKS served over HTTP: accepted, expired, wrong audience or
issuer, unknown key, a forged signature, and the roles claim mapped onto viewer/operator/admin."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import APIRouter, Depends, FastAPI

from sy_devkit.embedded_nats import EmbeddedNats
from sy_devkit.inprocess import app_client
from sy_platform import ServiceSettings, service_app
from sy_platform.auth import Principal, PrincipalDep, Role, require_role
from sy_platform.auth.oidc import OidcVerifier

ISSUER = "https://id.example.test/realms/ops"
HMAC_SECRET = "a-shared-secret-of-at-least-32-bytes!"
AUDIENCE = "switchyard"


class Jwks:
    """An identity provider's key set, served at `url` by a tiny HTTP server."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {
            "rsa-1": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "ec-1": ec.generate_private_key(ec.SECP256R1()),
        }
        self.fetches = 0
        keys = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                keys.fetches += 1
                body = json.dumps(keys.document()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/jwks.json"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def document(self) -> dict[str, Any]:
        docs = []
        for kid, key in self.keys.items():
            algorithm = jwt.algorithms.RSAAlgorithm if kid.startswith("rsa") else None
            if algorithm is not None:
                doc = json.loads(algorithm.to_jwk(key.public_key()))
            else:
                doc = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
            docs.append({**doc, "kid": kid, "use": "sig"})
        # A key type we do not use must not break the others.
        docs.append(
            {
                "kty": "oct",
                "kid": "hmac",
                "k": jwt.utils.base64url_encode(HMAC_SECRET.encode()).decode(),
            }
        )
        return {"keys": docs}

    def sign(self, claims: dict[str, Any], kid: str = "rsa-1", **header: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "ana", "iat": now, "exp": now + 300}
        body.update(claims)
        algorithm = "RS256" if kid.startswith("rsa") else "ES256"
        key = self.keys.get(kid) or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return jwt.encode(body, key, algorithm=algorithm, headers={"kid": kid, **header})

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def jwks() -> Iterator[Jwks]:
    provider = Jwks()
    yield provider
    provider.close()


def _probe_router() -> APIRouter:
    router = APIRouter(prefix="/things", tags=["things"])

    @router.get("")
    async def read(who: PrincipalDep) -> dict[str, Any]:
        return {"name": who.name, "kind": who.kind, "roles": sorted(who.roles)}

    @router.post("")
    async def change() -> dict[str, str]:
        return {"ok": "changed"}

    @router.delete("", dependencies=[Depends(require_role(Role.ADMIN))])
    async def remove() -> dict[str, str]:
        return {"ok": "removed"}

    return router


@pytest.fixture(scope="module")
async def oidc_app(
    jwks: Jwks, nats_server: EmbeddedNats, new_database: Callable[[], str]
) -> AsyncIterator[Callable[[str | None], Any]]:
    settings = ServiceSettings(
        nats_url=nats_server.url,
        database_url=new_database(),
        oidc_jwks_url=jwks.url,
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_roles_claim="switchyard_roles",
    )
    app: FastAPI = service_app(
        service="oidctest",
        settings=settings,
        title="OIDC probe",
        description="",
        routers=[_probe_router()],
    )
    async with app_client(app, token=None) as client:

        async def call(method: str, token: str | None) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return await client.request(method, "/things", headers=headers)

        yield call


async def test_a_valid_jwt_is_accepted_with_its_roles(oidc_app: Any, jwks: Jwks) -> None:
    token = jwks.sign({"switchyard_roles": ["operator"]})
    read = await oidc_app("GET", token)
    assert read.status_code == 200, read.text
    assert read.json() == {"name": "ana", "kind": "oidc", "roles": ["operator"]}
    assert (await oidc_app("POST", token)).status_code == 200
    assert (await oidc_app("DELETE", token)).status_code == 403


async def test_an_ec_key_and_a_space_separated_roles_claim(oidc_app: Any, jwks: Jwks) -> None:
    token = jwks.sign({"sub": "ci-bot", "switchyard_roles": "viewer admin"}, kid="ec-1")
    read = await oidc_app("GET", token)
    assert read.status_code == 200, read.text
    assert read.json()["roles"] == ["admin", "viewer"]
    assert (await oidc_app("DELETE", token)).status_code == 200


async def test_roles_map_onto_what_the_caller_may_do(oidc_app: Any, jwks: Jwks) -> None:
    viewer = jwks.sign({"switchyard_roles": ["viewer"]})
    assert (await oidc_app("GET", viewer)).status_code == 200
    assert (await oidc_app("POST", viewer)).status_code == 403
    unknown_roles = jwks.sign({"switchyard_roles": ["superuser", "root"]})
    assert (await oidc_app("GET", unknown_roles)).status_code == 403
    no_claim = jwks.sign({})
    refused = await oidc_app("GET", no_claim)
    assert refused.status_code == 403
    assert "no role" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("claims", "kid", "detail"),
    [
        ({"exp": int(time.time()) - 60}, "rsa-1", "JWT expired"),
        ({"aud": "someone-else"}, "rsa-1", "JWT refused: Audience doesn't match"),
        ({"iss": "https://evil.example.test"}, "rsa-1", "JWT refused: Invalid issuer"),
        ({}, "rsa-unknown", "JWT signed with an unknown key"),
    ],
    ids=["expired", "wrong-audience", "wrong-issuer", "unknown-kid"],
)
async def test_bad_jwts_are_refused(
    oidc_app: Any, jwks: Jwks, claims: dict[str, Any], kid: str, detail: str
) -> None:
    token = jwks.sign({"switchyard_roles": ["admin"], **claims}, kid=kid)
    refused = await oidc_app("GET", token)
    assert refused.status_code == 401, refused.text
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert refused.json()["detail"].startswith(detail)


async def test_a_forged_signature_and_a_missing_subject_are_refused(
    oidc_app: Any, jwks: Jwks
) -> None:
    good = jwks.sign({"switchyard_roles": ["admin"]})
    header, payload, _ = good.split(".")
    other = jwks.sign({"switchyard_roles": ["admin"]}, kid="ec-1").split(".")[2]
    forged = await oidc_app("GET", f"{header}.{payload}.{other}")
    assert forged.status_code == 401
    assert forged.json()["detail"].startswith("JWT refused")

    now = int(time.time())
    no_sub = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "exp": now + 60, "switchyard_roles": ["admin"]},
        jwks.keys["rsa-1"],
        algorithm="RS256",
        headers={"kid": "rsa-1"},
    )
    assert (await oidc_app("GET", no_sub)).status_code == 401


async def test_hs256_with_the_public_key_is_refused(oidc_app: Any, jwks: Jwks) -> None:
    """Algorithm confusion: an HMAC token signed with a symmetric key the JWKS publishes."""
    token = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "mallory", "exp": int(time.time()) + 60},
        HMAC_SECRET,
        algorithm="HS256",
        headers={"kid": "hmac"},
    )
    refused = await oidc_app("GET", token)
    assert refused.status_code == 401


async def test_keys_are_cached(oidc_app: Any, jwks: Jwks) -> None:
    token = jwks.sign({"switchyard_roles": ["viewer"]})
    assert (await oidc_app("GET", token)).status_code == 200
    before = jwks.fetches
    for _ in range(3):
        assert (await oidc_app("GET", token)).status_code == 200
    assert jwks.fetches == before, "a known kid is served from the cache"


async def test_a_rotated_key_is_fetched_but_made_up_kids_do_not_hammer_the_provider(
    jwks: Jwks,
) -> None:
    made_up = [jwks.sign({}, kid=f"rsa-made-up-{n}") for n in range(20)]
    verifier = OidcVerifier(jwks.url, ISSUER, AUDIENCE, "roles", unknown_kid_refetch_s=1.0)
    assert isinstance(await verifier.verify(jwks.sign({"roles": ["viewer"]})), Principal)
    fetched = jwks.fetches
    for token in made_up:  # anonymous callers inventing kids
        assert await verifier.verify(token) == "JWT signed with an unknown key"
    assert jwks.fetches == fetched, "no refetch within the cool-down"
    await asyncio.sleep(1.1)
    jwks.keys["rsa-2"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rotated = await verifier.verify(jwks.sign({"roles": ["admin"]}, kid="rsa-2"))
    assert isinstance(rotated, Principal) and rotated.roles == {Role.ADMIN}
    assert jwks.fetches == fetched + 1, "a rotated key is fetched once"
