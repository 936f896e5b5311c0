"""What the official schemas say about a field: its maxLength and its enum values.

Read from the JSON schemas in the `ocpp` package (the same files `sy_codec` validates against),
following `$ref` to `#/definitions/...` as 2.0.1 schemas use them.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from typing import Any

import orjson

_DIRS = {"ocpp1.6": "v16", "ocpp2.0.1": "v201", "ocpp2.1": "v21"}


@lru_cache(maxsize=512)
def request_schema(version: str, action: str) -> dict[str, Any] | None:
    """The request schema of `action` in `version`, or None when there is none."""
    directory = _DIRS.get(version)
    if directory is None:
        return None
    name = f"{action}.json" if version == "ocpp1.6" else f"{action}Request.json"
    path = files("ocpp").joinpath(directory, "schemas", name)
    if not path.is_file():
        return None
    doc: dict[str, Any] = orjson.loads(path.read_bytes().removeprefix(b"\xef\xbb\xbf"))
    return doc


def resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return target if isinstance(target, dict) else {}
    return node


def field_schema(root: dict[str, Any], keys: list[str]) -> dict[str, Any] | None:
    """The schema of the field reached by object keys `keys` (list items stepped through)."""
    node = resolve(root, root)
    for key in keys:
        while node.get("type") == "array" and isinstance(node.get("items"), dict):
            node = resolve(node["items"], root)
        props = node.get("properties")
        if not isinstance(props, dict) or key not in props:
            return None
        node = resolve(props[key], root)
    return node


def truncate_to_schema(payload: Any, root: dict[str, Any]) -> int:
    """Cut every string longer than its schema's maxLength, in place; how many were cut."""
    return _truncate(payload, resolve(root, root), root)


def _truncate(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> int:
    cut = 0
    if isinstance(value, dict):
        props = schema.get("properties")
        if isinstance(props, dict):
            for key, item in value.items():
                sub = props.get(key)
                if not isinstance(sub, dict):
                    continue
                sub = resolve(sub, root)
                limit = sub.get("maxLength")
                if isinstance(item, str) and isinstance(limit, int) and len(item) > limit:
                    value[key] = item[:limit]
                    cut += 1
                else:
                    cut += _truncate(item, sub, root)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            sub = resolve(items, root)
            limit = sub.get("maxLength")
            for i, item in enumerate(value):
                if isinstance(item, str) and isinstance(limit, int) and len(item) > limit:
                    value[i] = item[:limit]
                    cut += 1
                else:
                    cut += _truncate(item, sub, root)
    return cut
