import sys

from sy_edge.app import build_app
from sy_edge.settings import EdgeSettings
from sy_platform.cli import service_main

sys.exit(
    service_main(
        service="edge",
        package="sy_edge",
        settings_factory=EdgeSettings,
        app_factory=build_app,  # type: ignore[arg-type]
    )
)
