"""The Switchyard service platform."""

from sy_platform.app import RuntimeDep, service_app
from sy_platform.runtime import Runtime, runtime
from sy_platform.settings import ServiceSettings

__all__ = ["Runtime", "RuntimeDep", "ServiceSettings", "runtime", "service_app"]
