"""The JSON schemas shipped inside the `ocpp` package, loaded lazily and compiled once.

Each schema is compiled twice: into a jsonschema validator, which is authoritative and reports
errors, and into a fast validity check (`fastcheck`) that lets a valid payload skip jsonschema.

File naming differs per version: 1.6 uses `<Action>.json` / `<Action>Response.json`, 2.0.1 and 2.1
use `<Action>Request.json` / `<Action>Response.json`. 2.1's fire-and-forget SEND messages (e.g.
NotifyPeriodicEventStream) ship as a bare `<Action>.json` with no response.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, Literal, Protocol, cast

import orjson
from jsonschema import FormatChecker  # type: ignore[import-untyped]
from jsonschema.validators import extend, validator_for  # type: ignore[import-untyped]

from .fastcheck import Check, compile_check, exact_multiple_of
from .messages import OcppVersion

SchemaKind = Literal["request", "response"]

_SCHEMA_DIRS: dict[OcppVersion, str] = {
    OcppVersion.V16: "v16",
    OcppVersion.V201: "v201",
    OcppVersion.V21: "v21",
}

# RFC 3339 section 5.6 date-time, which is what "format": "date-time" means in these schemas.
_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))"
)


class SchemaValidator(Protocol):
    """The part of a compiled jsonschema validator the codec uses."""

    def iter_errors(self, instance: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class CompiledSchema:
    """One schema, compiled: the authoritative validator and, when possible, its fast check.

    `accepts(payload)` True means `validator` would find no error; False means "ask `validator`".
    It is None for a schema `fastcheck` cannot mirror: then every payload goes to `validator`.
    """

    validator: SchemaValidator
    accepts: Check | None


def _is_rfc3339_date_time(value: object) -> bool:
    """True for an RFC 3339 date-time with an explicit offset; non-strings are not checked."""
    if not isinstance(value, str):
        return True
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    offset_hours, offset_minutes = match.group(9), match.group(10)
    if offset_hours is not None and (int(offset_hours) > 23 or int(offset_minutes) > 59):
        return False
    try:
        # RFC 3339 allows a leap second (60); datetime does not, so check 59 instead.
        datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return False
    return True


class SchemaRegistry:
    """Compiled validators keyed by (version, action, "request" | "response").

    Nothing is read until first use: the file listing of a version is taken once, each schema is
    parsed and compiled the first time its action is validated. Safe to share between threads;
    two threads racing on the same key may both compile it, and one result is kept.

    `check_formats` turns on `"format": "date-time"` checking (strict RFC 3339, offset required).
    It is off by default because field firmware commonly sends timestamps without an offset, and
    the `ocpp` package does not check formats either; other formats are never checked.
    """

    def __init__(self, *, check_formats: bool = False) -> None:
        self._format_checker: Any = None
        if check_formats:
            self._format_checker = FormatChecker(formats=())
            self._format_checker.checks("date-time")(_is_rfc3339_date_time)
        self._files: dict[OcppVersion, dict[tuple[str, SchemaKind], Traversable]] = {}
        self._compiled: dict[tuple[OcppVersion, str, SchemaKind], CompiledSchema] = {}
        self._classes: dict[type[Any], type[Any]] = {}
        self._lock = threading.Lock()

    def actions(self, version: OcppVersion) -> frozenset[str]:
        """Every action that has a request schema in `version`."""
        return frozenset(action for action, kind in self._index(version) if kind == "request")

    def validator(
        self, version: OcppVersion, action: str, kind: SchemaKind
    ) -> SchemaValidator | None:
        """The compiled validator for that payload, or None when `version` has no such schema."""
        compiled = self.compiled(version, action, kind)
        return None if compiled is None else compiled.validator

    def compiled(
        self, version: OcppVersion, action: str, kind: SchemaKind
    ) -> CompiledSchema | None:
        """Validator and fast check for that payload, or None when `version` has no such schema."""
        key = (version, action, kind)
        cached = self._compiled.get(key)
        if cached is not None:
            return cached
        path = self._index(version).get((action, kind))
        if path is None:
            return None
        compiled = self._compile(orjson.loads(path.read_bytes().removeprefix(b"\xef\xbb\xbf")))
        with self._lock:
            return self._compiled.setdefault(key, compiled)

    def compiled_count(self) -> int:
        """How many validators have been compiled so far (lets callers see laziness)."""
        return len(self._compiled)

    def _index(self, version: OcppVersion) -> dict[tuple[str, SchemaKind], Traversable]:
        index = self._files.get(version)
        if index is None:
            index = _list_schemas(version)
            with self._lock:
                index = self._files.setdefault(version, index)
        return index

    def _compile(self, schema: dict[str, Any]) -> CompiledSchema:
        # Each file says its draft in "$schema": 2.0.1 and 2.1 are all draft-06, 1.6 mostly
        # draft-04 (the 22 security-extension schemas are draft-06).
        base = validator_for(schema)
        cls = self._classes.get(base)
        if cls is None:
            cls = extend(base, {"multipleOf": exact_multiple_of})
            self._classes[base] = cls
        cls.check_schema(schema)
        validator = cls(schema, format_checker=self._format_checker)
        return CompiledSchema(cast(SchemaValidator, validator), compile_check(validator))


def _list_schemas(version: OcppVersion) -> dict[tuple[str, SchemaKind], Traversable]:
    directory = files("ocpp").joinpath(_SCHEMA_DIRS[version], "schemas")
    index: dict[tuple[str, SchemaKind], Traversable] = {}
    for entry in directory.iterdir():
        name = entry.name
        if not name.endswith(".json"):
            continue
        stem = name.removesuffix(".json")
        if stem.endswith("Response"):
            index[(stem.removesuffix("Response"), "response")] = entry
        elif version is not OcppVersion.V16 and stem.endswith("Request"):
            index[(stem.removesuffix("Request"), "request")] = entry
        else:
            # 1.6 request files carry no suffix; in 2.x a bare name is a 2.1 SEND message.
            index[(stem, "request")] = entry
    return index


DEFAULT_REGISTRY = SchemaRegistry()
