import sys

from sy_journal.app import build_app
from sy_journal.settings import JournalSettings
from sy_platform.cli import service_main

sys.exit(
    service_main(
        service="journal",
        package="sy_journal",
        settings_factory=JournalSettings,
        app_factory=build_app,  # type: ignore[arg-type]
    )
)
