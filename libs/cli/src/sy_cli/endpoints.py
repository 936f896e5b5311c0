"""Where the APIs are: environment first, then what `switchyard run` wrote, then defaults."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sy_devkit.layout import DEFAULT_HTTP_PORTS

ENV = {name: f"SY_{name.upper()}_URL" for name in DEFAULT_HTTP_PORTS}


def state_dir() -> Path:
    return Path(os.environ.get("SY_STATE_DIR", ".sy"))


def endpoints_file() -> Path:
    return state_dir() / "endpoints.json"


def api_url(service: str) -> str:
    if url := os.environ.get(ENV[service]):
        return url.rstrip("/")
    try:
        written = json.loads(endpoints_file().read_text())
        return str(written[service]).rstrip("/")
    except (OSError, ValueError, KeyError):
        return f"http://127.0.0.1:{DEFAULT_HTTP_PORTS[service]}"


def token_file() -> Path:
    return state_dir() / "token"


def api_token() -> str | None:
    """SY_API_TOKEN, else the token `switchyard run` wrote for this machine's local suite."""
    if token := os.environ.get("SY_API_TOKEN"):
        return token.strip()
    try:
        return token_file().read_text().strip() or None
    except OSError:
        return None
