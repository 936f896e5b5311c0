"""`python -m sy_<service> [serve|migrate]`: the same entry point shape for every service."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from sy_platform.gc_tuning import tune_gc
from sy_platform.logs import configure_logging
from sy_platform.migrations import upgrade
from sy_platform.settings import ServiceSettings


def service_main(
    *,
    service: str,
    package: str,
    settings_factory: Callable[[], ServiceSettings],
    app_factory: Callable[[ServiceSettings], FastAPI],
    argv: list[str] | None = None,
) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {package}", description=f"Switchyard {service}"
    )
    parser.add_argument("command", choices=["serve", "migrate"], nargs="?", default="serve")
    args = parser.parse_args(argv)
    try:
        settings = settings_factory()
    except Exception as exc:
        print(f"{service}: invalid settings: {exc}", file=sys.stderr)
        return 2
    configure_logging(service, settings.log_level, settings.log_format)
    log = logging.getLogger(package)
    if args.command == "migrate":
        try:
            upgrade(package, settings.database_url)
        except Exception as exc:
            log.error("migration failed: %s", exc)
            return 1
        log.info("schema is up to date")
        return 0
    app = app_factory(settings)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    tune_gc()  # after the imports: they are frozen out of every later collection
    uvicorn.Server(config).run()
    return 0
