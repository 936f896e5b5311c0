"""Calling a service's REST API and turning every failure into one clear sentence."""

from __future__ import annotations

from typing import Any

import httpx

from sy_cli.endpoints import ENV, api_token, api_url, token_file


class CliError(Exception):
    """Printed as `switchyard: <message>` with exit status 1."""


def request(service: str, method: str, path: str, **kwargs: Any) -> Any:
    base = api_url(service)
    token = api_token()
    headers = dict(kwargs.pop("headers", None) or {})  # the caller's, e.g. a Content-Type
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = httpx.request(method, base + path, timeout=15, headers=headers, **kwargs)
    except httpx.HTTPError as exc:
        raise CliError(
            f"cannot reach the {service} API at {base} ({exc.__class__.__name__}); "
            f"is `make run` running? Set {ENV[service]} to point elsewhere."
        ) from None
    if response.status_code == 401:
        raise CliError(
            f"{service} refused the API token ({_detail(response)}); set SY_API_TOKEN, or run "
            f"`make run` here so the CLI finds its token in {token_file()}"
        )
    if response.status_code >= 400:
        raise CliError(f"{service} refused {method} {path}: {_detail(response)}")
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code} {response.text[:200]}"
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):  # FastAPI validation errors
        parts = []
        for err in detail:
            where = ".".join(str(p) for p in err.get("loc", [])[1:])
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        detail = "; ".join(parts)
    return f"HTTP {response.status_code}: {detail}"
