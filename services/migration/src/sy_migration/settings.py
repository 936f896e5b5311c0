from pydantic import Field

from sy_platform import ServiceSettings


class MigrationSettings(ServiceSettings):
    http_port: int = Field(8705, description="Port the REST API listens on.")
