"""Field paths inside a payload: `meterValue[].sampledValue[].value`, `chargingStation.model`.

A path is a dot-separated list of keys; `[]` after a key means "every element of that list".
`locate` yields each (container, key) pair the path reaches, so a rule can read, replace or
delete the value in place. Missing keys and values of the wrong shape are skipped silently:
a rule only touches what is actually there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Step:
    key: str
    each: bool  # the value at `key` is a list; visit every element


@dataclass(frozen=True, slots=True)
class FieldPath:
    text: str
    steps: tuple[Step, ...]

    @classmethod
    def parse(cls, text: str) -> FieldPath:
        steps = []
        for part in text.strip().split("."):
            each = part.endswith("[]")
            key = part.removesuffix("[]")
            if not key or "[" in key or "]" in key:
                raise ValueError(f"bad field path {text!r}: use keys and [] like a.b[].c")
            steps.append(Step(key, each))
        return cls(text, tuple(steps))

    def parent(self) -> FieldPath | None:
        """The path of the object holding the last key (None for a top-level key)."""
        if len(self.steps) == 1:
            return None
        *head, last = self.steps
        if last.each:
            raise ValueError(f"{self.text!r}: the last key must not end with []")
        return FieldPath(self.text.rsplit(".", 1)[0], tuple(head))

    def locate(self, doc: Any) -> Iterator[tuple[dict[str, Any], str]]:
        """Every (object, key) the path reaches in `doc` where the key is present."""
        yield from _walk(doc, self.steps)

    def objects(self, doc: Any) -> Iterator[dict[str, Any]]:
        """Every object the path reaches; a path ending in [] reaches each element of the list."""
        yield from _objects(doc, self.steps)


def _objects(node: Any, steps: tuple[Step, ...]) -> Iterator[dict[str, Any]]:
    if not steps:
        if isinstance(node, dict):
            yield node
        return
    if not isinstance(node, dict) or steps[0].key not in node:
        return
    value = node[steps[0].key]
    items = value if steps[0].each and isinstance(value, list) else [value]
    if steps[0].each and not isinstance(value, list):
        return
    for item in items:
        yield from _objects(item, steps[1:])


def _walk(node: Any, steps: tuple[Step, ...]) -> Iterator[tuple[dict[str, Any], str]]:
    if not isinstance(node, dict) or not steps:
        return
    step, rest = steps[0], steps[1:]
    if step.key not in node:
        return
    if not rest:
        if step.each:
            raise ValueError("a path ending in [] names a list, not a field")
        yield node, step.key
        return
    value = node[step.key]
    if step.each:
        if isinstance(value, list):
            for item in value:
                yield from _walk(item, rest)
    else:
        yield from _walk(value, rest)
