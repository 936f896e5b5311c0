"""One settings pattern for every service: pydantic-settings with the `SY_` prefix.

Each service subclasses `ServiceSettings`, builds it in its app factory and passes it down, so tests
construct settings directly instead of patching an import-time singleton.
"""

from __future__ import annotations

import os
import socket

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from sy_bus.connection import NatsAuth


def _default_instance() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SY_", extra="ignore")

    nats_url: str = Field(
        "nats://127.0.0.1:4222", description="NATS server URL(s), comma-separated."
    )
    nats_user: str | None = Field(
        None, description="NATS user of this service (its subject permissions: sy_bus.permissions)."
    )
    nats_password: SecretStr | None = Field(None, description="Password of `nats_user`.")
    nats_token: SecretStr | None = Field(None, description="NATS token, instead of a user.")
    nats_creds: str | None = Field(
        None, description="NATS credentials file (user JWT + NKey seed), instead of a user."
    )
    nats_tls_ca: str | None = Field(
        None, description="PEM CA bundle of the NATS server's certificate; set it to use TLS."
    )
    nats_tls_cert: str | None = Field(
        None, description="PEM client certificate, when the NATS server verifies clients."
    )
    nats_tls_key: str | None = Field(None, description="PEM private key of `nats_tls_cert`.")
    database_url: str = Field(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/switchyard",
        description="Postgres URL; the service uses only its own schema.",
    )
    http_host: str = Field("127.0.0.1", description="Address the REST API listens on.")
    http_port: int = Field(8000, description="Port the REST API listens on.")
    log_level: str = Field("INFO", description="Python log level.")
    log_format: str = Field("json", description="'json' for machines, 'text' for people.")
    instance_id: str = Field(default_factory=_default_instance, description="This replica's id.")
    bootstrap_token_sha256: str | None = Field(
        None,
        description="SHA-256 (hex) of a bootstrap admin token, e.g. from a Kubernetes Secret; "
        "use it to create named tokens, then rotate it away.",
    )
    oidc_jwks_url: str | None = Field(None, description="JWKS URL of your OIDC provider.")
    oidc_issuer: str | None = Field(None, description="Expected 'iss' of OIDC tokens.")
    oidc_audience: str | None = Field(None, description="Expected 'aud' of OIDC tokens.")
    oidc_roles_claim: str = Field(
        "roles", description="Claim holding the roles (viewer, operator, admin)."
    )
    otlp_endpoint: str | None = Field(
        None, description="OTLP/HTTP endpoint for traces, e.g. http://otel-collector:4318."
    )

    def nats_auth(self) -> NatsAuth:
        return NatsAuth(
            user=self.nats_user,
            password=self.nats_password.get_secret_value() if self.nats_password else None,
            token=self.nats_token.get_secret_value() if self.nats_token else None,
            creds_file=self.nats_creds,
            tls_ca=self.nats_tls_ca,
            tls_cert=self.nats_tls_cert,
            tls_key=self.nats_tls_key,
        )
