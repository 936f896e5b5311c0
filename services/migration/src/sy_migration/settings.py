from pydantic import Field, SecretStr

from sy_platform import ServiceSettings


class MigrationSettings(ServiceSettings):
    http_port: int = Field(8705, description="Port the REST API listens on.")
    service_token: SecretStr | None = Field(
        None,
        description="API token (operator role) the migration service uses toward routing, the "
        "journal, the connectors and the edge. Without it the wave controller does not run.",
    )
    routing_url: str = Field("http://127.0.0.1:8702", description="Routing's REST API.")
    journal_url: str = Field("http://127.0.0.1:8704", description="The journal's REST API.")
    connectors_url: str = Field("http://127.0.0.1:8703", description="The connectors' REST API.")
    edge_url: str | None = Field(
        "http://127.0.0.1:8701",
        description="An edge replica's REST API, for per-charger quirk counts in the estate map "
        "(empty: leave them out).",
    )
    controller_interval_s: float = Field(
        1.0, gt=0, le=60, description="How often the wave controller looks at active waves."
    )
    export_dir: str = Field(
        ".sy/exports",
        description="Where decommission exports of the journal are written (a volume in "
        "Kubernetes).",
    )
    kubernetes: bool | None = Field(
        None,
        description="Reconcile MigrationWave objects of the cluster; default: when a service "
        "account token is mounted.",
    )
    kubernetes_namespace: str | None = Field(
        None, description="Namespace whose waves are reconciled (default: the pod's own)."
    )
    kubernetes_api: str = Field(
        "https://kubernetes.default.svc", description="The Kubernetes API server."
    )
