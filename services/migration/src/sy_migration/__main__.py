import sys

from sy_migration.app import build_app
from sy_migration.settings import MigrationSettings
from sy_platform.cli import service_main

sys.exit(
    service_main(
        service="migration",
        package="sy_migration",
        settings_factory=MigrationSettings,
        app_factory=build_app,  # type: ignore[arg-type]
    )
)
