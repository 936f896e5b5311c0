"""What the routing API accepts, with errors that tell the operator what to fix.

These checks live in one place so the REST models and anything added later (imports, restores)
reject the same inputs with the same sentences.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator

BACKEND_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
GROUP_NAME = BACKEND_NAME
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._:/+-]{0,63}$")
# WebSocket subprotocol names of the versions a backend can speak through the connectors today.
# sy_codec.OcppVersion also knows "ocpp2.1", which the edge recognises but nothing relays yet.
OCPP_VERSIONS = ("ocpp1.6", "ocpp2.0.1")
# OCPP 2.0.1 Part 4 §3.1: a charging station identity is at most 48 characters.
MAX_CHARGER_ID_LENGTH = 48


def backend_name(value: str) -> str:
    if not BACKEND_NAME.match(value):
        raise ValueError(
            f"backend name {value!r} is not valid: use 1-64 lowercase letters, digits, '-' or '_',"
            " starting with a letter or a digit"
        )
    return value


def backend_url(value: str) -> str:
    """A ws:// or wss:// base URL; connectors dial `<url>/<chargerId>`, so no trailing '/'."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - parses the port, raising ValueError when it is not a number
    except ValueError as exc:
        raise ValueError(f"backend url {value!r} cannot be parsed: {exc}") from None
    if parts.scheme not in ("ws", "wss"):
        raise ValueError(
            f"backend url {value!r} must start with ws:// or wss://: connectors open an OCPP"
            " WebSocket to it"
        )
    if not parts.hostname:
        raise ValueError(f"backend url {value!r} has no host; write it as wss://host[:port]/path")
    if parts.query or parts.fragment:
        raise ValueError(
            f"backend url {value!r} must not have a query or fragment: connectors append"
            " '/<chargerId>' to it"
        )
    if parts.username or parts.password:
        # The URL is published to the sy-routes bucket and logged; secrets do not belong in it.
        raise ValueError("backend url must not contain credentials; remove the 'user:pass@' part")
    return value.rstrip("/")


def ocpp_versions(value: list[str]) -> list[str]:
    if not value:
        raise ValueError(
            f"list at least one OCPP version the backend speaks: {', '.join(OCPP_VERSIONS)}"
        )
    unknown = [v for v in value if v not in OCPP_VERSIONS]
    if unknown:
        raise ValueError(
            f"unknown OCPP version(s) {', '.join(map(repr, unknown))}; use the subprotocol"
            f" names {', '.join(OCPP_VERSIONS)}"
        )
    return list(dict.fromkeys(value))  # drop repeats, keep the operator's order


def charger_id(value: str) -> str:
    if not 1 <= len(value) <= MAX_CHARGER_ID_LENGTH:
        raise ValueError(
            f"charger id must be 1-{MAX_CHARGER_ID_LENGTH} characters (OCPP 2.0.1 Part 4 §3.1),"
            f" got {len(value)}"
        )
    return value


def group_name(value: str) -> str:
    if not GROUP_NAME.match(value):
        raise ValueError(
            f"group name {value!r} is not valid: use 1-64 lowercase letters, digits, '-' or '_',"
            " starting with a letter or a digit"
        )
    return value


def secret_ref(value: str) -> str:
    """Where the connectors read a secret: `env:NAME` or `file:/absolute/path`, never the secret.

    The reference is published to sy-routes and shown in the API; the secret stays in the
    connectors' environment or a mounted Secret.
    """
    kind, sep, where = value.partition(":")
    if sep and kind == "env" and ENV_NAME.match(where):
        return value
    if sep and kind == "file" and where.startswith("/") and where.isprintable():
        return value
    raise ValueError(
        "expected a secret reference, not the secret itself: write env:NAME (an environment"
        " variable of the connectors) or file:/absolute/path (a mounted file)"
    )


def label(value: str) -> str:
    """A site, criticality or tag: short, printable, no ',' or '=' (the CLI splits on them)."""
    if not LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a valid label: 1-64 letters, digits, spaces or . _ : / + -,"
            " starting with a letter or digit"
        )
    return value


BackendName = Annotated[str, AfterValidator(backend_name)]
BackendUrl = Annotated[str, AfterValidator(backend_url)]
OcppVersions = Annotated[list[str], AfterValidator(ocpp_versions)]
ChargerId = Annotated[str, AfterValidator(charger_id)]
GroupName = Annotated[str, AfterValidator(group_name)]
SecretRef = Annotated[str, AfterValidator(secret_ref)]
Label = Annotated[str, AfterValidator(label)]
