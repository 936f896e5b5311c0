"""What a backend is in the API: where it listens, per OCPP version, and how Switchyard signs in.

Secrets never pass through this API: credentials are references (`env:NAME`, `file:/path`) that
the connectors resolve where they run. A body carrying a secret itself is refused, not ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sy_routing.api.deps import REASON_DESCRIPTION
from sy_routing.models import Backend
from sy_routing.vocabulary import (
    BackendName,
    BackendUrl,
    OcppVersions,
    SecretRef,
    backend_url,
    secret_ref,
)

URL_DESCRIPTION = (
    "WebSocket base URL (ws:// or wss://) of the backend's OCPP endpoint; connectors dial"
    " '<url>/<chargerId>'. A trailing '/' is removed."
)
VERSIONS_DESCRIPTION = "OCPP versions the backend speaks, as subprotocol names: ocpp1.6, ocpp2.0.1."
REF = "A reference, never the secret: env:NAME (connectors' environment) or file:/path."
# Body fields that would carry a secret itself, and the reference field to use instead.
_PLAINTEXT = {"password": "password_ref", "cert": "cert_ref", "key": "key_ref",
              "private_key": "key_ref", "certificate": "cert_ref", "ca": "ca_ref"}  # fmt: skip


class AuthIn(BaseModel):
    """How the connectors authenticate toward the backend (OCPP security profiles 1-3)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["none", "basic", "mtls"] = Field(
        "none",
        description="'basic': HTTP Basic auth (username + password_ref); 'mtls': TLS client"
        " certificate (cert_ref + key_ref, wss:// only); 'none'.",
    )
    username: str | None = Field(None, min_length=1, max_length=256, description="Basic auth user.")
    password_ref: SecretRef | None = Field(None, description=f"Basic auth password. {REF}")
    cert_ref: SecretRef | None = Field(None, description=f"Client certificate (PEM). {REF}")
    key_ref: SecretRef | None = Field(None, description=f"Its private key (PEM). {REF}")
    ca_ref: SecretRef | None = Field(
        None, description=f"CA bundle (PEM) to verify the backend; default: system CAs. {REF}"
    )

    @model_validator(mode="before")
    @classmethod
    def _no_plaintext(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for field, instead in _PLAINTEXT.items():
                if field in data:
                    # Drop it first: a 422 echoes its input, and the secret must not travel again.
                    data.pop(field)
                    raise ValueError(
                        f"'{field}' would carry a secret, which Switchyard never takes: put it"
                        f" where the connectors can read it and send '{instead}' as env:NAME or"
                        " file:/path"
                    )
            for field in ("password_ref", "cert_ref", "key_ref", "ca_ref"):
                value = data.get(field)
                if isinstance(value, str):
                    try:
                        secret_ref(value)
                    except ValueError as exc:
                        data.pop(field)  # likely the secret itself: not echoed in the 422
                        raise ValueError(f"{field}: {exc}") from None
        return data

    @model_validator(mode="after")
    def _complete(self) -> Self:
        basic, mtls = (self.username, self.password_ref), (self.cert_ref, self.key_ref)
        if self.kind == "basic" and not all(basic):
            raise ValueError("kind 'basic' needs both username and password_ref")
        if self.kind == "mtls" and not all(mtls):
            raise ValueError("kind 'mtls' needs both cert_ref and key_ref")
        if self.kind != "basic" and any(basic):
            raise ValueError(f"username/password_ref only go with kind 'basic', not '{self.kind}'")
        if self.kind != "mtls" and any(mtls):
            raise ValueError(f"cert_ref/key_ref only go with kind 'mtls', not '{self.kind}'")
        return self


class BackendUpdate(BaseModel):
    url: BackendUrl = Field(description=URL_DESCRIPTION)
    ocpp_versions: OcppVersions = Field(description=VERSIONS_DESCRIPTION)
    url_by_version: dict[str, str] = Field(
        default_factory=dict,
        description="A different URL for some OCPP versions, e.g. {'ocpp2.0.1':"
        " 'wss://csms.example/ocpp201'}; versions not listed use 'url'.",
    )
    auth: AuthIn = Field(default_factory=AuthIn, description="Credentials toward the backend.")
    connect_rate_per_s: float | None = Field(
        None,
        gt=0,
        le=10_000,
        description="New upstream connections per second toward this backend, all chargers"
        " together (protects it when a whole fleet cuts over); null: no limit.",
    )
    call_timeout_s: float | None = Field(
        None,
        gt=0,
        le=600,
        description="Seconds to wait for the backend's answer to a CALL; null: the"
        " connectors' default.",
    )
    reason: str = Field("", max_length=2000, description=REASON_DESCRIPTION)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for version, url in list(self.url_by_version.items()):
            if version not in self.ocpp_versions:
                raise ValueError(
                    f"url_by_version names {version!r}, which is not in ocpp_versions"
                    f" ({', '.join(self.ocpp_versions)})"
                )
            self.url_by_version[version] = backend_url(url)
        if self.auth.kind == "mtls":
            plain = [u for u in (self.url, *self.url_by_version.values()) if u.startswith("ws:")]
            if plain:
                raise ValueError(f"kind 'mtls' needs wss:// URLs; {plain[0]} is ws://")
        return self


class BackendIn(BackendUpdate):
    name: BackendName = Field(
        description="Unique name: 1-64 lowercase letters, digits, '-' or '_', starting with a"
        " letter or digit. Routes refer to the backend by it."
    )


class AuthOut(BaseModel):
    kind: str
    username: str | None = None
    password_ref: str | None = None
    cert_ref: str | None = None
    key_ref: str | None = None
    ca_ref: str | None = None


class BackendOut(BaseModel):
    name: str = Field(description="The backend's unique name.")
    url: str = Field(description="WebSocket base URL the connectors dial, '<url>/<chargerId>'.")
    ocpp_versions: list[str] = Field(description=VERSIONS_DESCRIPTION)
    url_by_version: dict[str, str] = Field(description="URLs that differ per OCPP version.")
    auth: AuthOut = Field(description="Credentials toward the backend, as references.")
    connect_rate_per_s: float | None = Field(description="Connection rate limit, per second.")
    call_timeout_s: float | None = Field(description="CALL answer timeout, seconds.")
    created_at: datetime = Field(description="When the backend was registered (UTC).")
    updated_at: datetime = Field(description="When the backend last changed (UTC).")


def backend_out(backend: Backend) -> BackendOut:
    return BackendOut(
        name=backend.name,
        url=backend.url,
        ocpp_versions=list(backend.ocpp_versions),
        url_by_version=dict(backend.url_by_version or {}),
        auth=AuthOut(
            kind=backend.auth_kind,
            username=backend.username,
            password_ref=backend.password_ref,
            cert_ref=backend.cert_ref,
            key_ref=backend.key_ref,
            ca_ref=backend.ca_ref,
        ),
        connect_rate_per_s=backend.connect_rate_per_s,
        call_timeout_s=backend.call_timeout_s,
        created_at=backend.created_at,
        updated_at=backend.updated_at,
    )


def write_backend(backend: Backend, body: BackendUpdate) -> None:
    backend.url, backend.ocpp_versions = body.url, body.ocpp_versions
    backend.url_by_version = dict(body.url_by_version)
    backend.auth_kind = body.auth.kind
    backend.username, backend.password_ref = body.auth.username, body.auth.password_ref
    backend.cert_ref, backend.key_ref = body.auth.cert_ref, body.auth.key_ref
    backend.ca_ref = body.auth.ca_ref
    backend.connect_rate_per_s, backend.call_timeout_s = (
        body.connect_rate_per_s,
        body.call_timeout_s,
    )
