import sys

from sy_platform.cli import service_main
from sy_routing.app import build_app
from sy_routing.settings import RoutingSettings

sys.exit(
    service_main(
        service="routing",
        package="sy_routing",
        settings_factory=RoutingSettings,
        app_factory=build_app,  # type: ignore[arg-type]
    )
)
