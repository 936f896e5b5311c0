import sys

from sy_connectors.app import build_app
from sy_connectors.settings import ConnectorSettings
from sy_platform.cli import service_main

sys.exit(
    service_main(
        service="connectors",
        package="sy_connectors",
        settings_factory=ConnectorSettings,
        app_factory=build_app,  # type: ignore[arg-type]
    )
)
