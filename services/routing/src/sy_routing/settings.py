from pydantic import Field

from sy_platform import ServiceSettings


class RoutingSettings(ServiceSettings):
    http_port: int = Field(8702, description="Port the REST API listens on.")
