"""The fast validity check against jsonschema, differentially, over every OCPP schema.

`fastcheck` may only answer True when jsonschema finds no error (else a bad payload would pass
unreported). For plain JSON payloads it should also answer True whenever jsonschema does (else
it is just slow). So for every request and response schema of every version this builds valid
payloads from the schema itself, breaks them systematically (each field dropped, wrong types
including bool-for-int and float-for-int, strings at and past maxLength, numbers at and past
their bounds, non-multiples, extra properties, bad enum values, broken list items) and asserts
both answers agree on each.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator, Draft6Validator, Draft7Validator  # type: ignore[import-untyped]
from jsonschema.validators import extend  # type: ignore[import-untyped]

from sy_codec import Call, OcppVersion, SchemaKind, SchemaRegistry, validate_call
from sy_codec.fastcheck import compile_check, exact_multiple_of

NOW = "2024-05-01T12:00:00.000Z"
PLAIN_REGISTRY = SchemaRegistry()
FORMAT_REGISTRY = SchemaRegistry(check_formats=True)
REGISTRIES = {"formats-off": PLAIN_REGISTRY, "formats-on": FORMAT_REGISTRY}
SCHEMAS: list[tuple[OcppVersion, str, SchemaKind]] = [
    (version, action, kind)
    for version in OcppVersion
    for action in sorted(PLAIN_REGISTRY.actions(version))
    for kind in ("request", "response")
    if PLAIN_REGISTRY.validator(version, action, kind) is not None
]
Path = tuple[str | int, ...]
DROP = object()  # as a replacement value: remove the key
# Small schemas have fewer single breakages than this, the large 2.1 ones thousands: sample
# those (with a fixed seed) so the whole differential stays under a minute on a shared machine.
CASES_PER_SEED = 120


def jsonschema_accepts(registry: SchemaRegistry, key: tuple[Any, ...], payload: Any) -> bool:
    """What `validation` decides without the fast path: no error from iter_errors."""
    compiled = registry.compiled(*key)
    assert compiled is not None
    return next(iter(compiled.validator.iter_errors(payload)), None) is None


def fast_accepts(registry: SchemaRegistry, key: tuple[Any, ...], payload: Any) -> bool:
    compiled = registry.compiled(*key)
    assert compiled is not None and compiled.accepts is not None
    return compiled.accepts(payload)


# -- payloads built from the schema -------------------------------------------------------------


def resolve(root: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = root
        for token in schema["$ref"].removeprefix("#/").split("/"):
            target = target[token]
        schema = target
    return schema


def example(root: dict[str, Any], schema: dict[str, Any], full: bool) -> Any:
    """A valid instance: only required properties, or (`full`) every property at its limits."""
    schema = resolve(root, schema)
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][-1 if full else 0]
    if kind == "object":
        names = schema.get("properties", {}) if full else schema.get("required", [])
        return {name: example(root, schema["properties"][name], full) for name in names}
    if kind == "array":
        # One item even in full: two per list would double the payload at every nesting level.
        count = max(schema.get("minItems", 0), 1 if full else 0)
        return [example(root, schema["items"], full) for _ in range(count)]
    if kind == "string":
        if schema.get("format") == "date-time":
            return NOW
        return "s" * schema.get("maxLength", 12) if full else "s"
    if kind in ("integer", "number"):
        if "multipleOf" in schema:
            value: int | float = float(Fraction(repr(schema["multipleOf"])) * 214)
        else:
            value = 1.5 if kind == "number" else 3
        value = max(value, schema.get("minimum", value))
        return min(value, schema.get("maximum", value))
    if kind == "boolean":
        return full
    if kind is None:  # untyped, e.g. DataTransfer's data: anything goes
        return {"nested": [1, 2.5, "x", None, True]} if full else "anything"
    raise AssertionError(f"no example for {schema}")


# -- systematic breakage ------------------------------------------------------------------------

WRONG = [None, True, False, 0, 1, -1, 2.0, 1.5, 10**20, 1e300, "", "x", "Bogus", [], {}, [1],
         {"x": 1}]  # fmt: skip


def replacements(schema: dict[str, Any], value: Any) -> Iterator[Any]:
    """Values to put where `value` (valid for `schema`) was: wrong ones and edge-valid ones."""
    yield from WRONG
    if isinstance(value, str):
        yield value + " "
        yield value.lower()
        limit = schema.get("maxLength")
        if limit is not None:
            yield "x" * limit
            yield "x" * (limit + 1)
            yield "\U0001f600" * limit  # JSON Schema lengths count code points (draft-06 §6.3)
            yield "\U0001f600" * (limit + 1)
        if schema.get("format") == "date-time":
            yield from ("2024-05-01T12:00:00", "2024-02-30T12:00:00Z", "2024-05-01t12:00:00z")
    if isinstance(value, int | float) and not isinstance(value, bool):
        yield from (value + 0.0, value + 0.5, -value, value * 10**6)
        for bound in ("minimum", "maximum"):
            if bound in schema:
                limit = schema[bound]
                yield from (limit, limit - 1, limit + 1, limit - 0.5, limit + 0.5, float(limit))
        if "multipleOf" in schema:
            yield from (21.45, 0.30000000000000004, 0.3, 1e-20, 3, -0.1, 2**53 + 1, 1e22)
    if isinstance(value, list):
        limit = schema.get("maxItems")
        if value and limit is not None:
            yield [value[0]] * limit
            yield [value[0]] * (limit + 1)
        if value:
            yield [*value, *WRONG[:3]]
            yield [value[0], {}]
    if isinstance(value, dict):
        yield {**value, "extraField": 1}


def mutations(
    root: dict[str, Any], schema: dict[str, Any], value: Any, path: Path = ()
) -> Iterator[tuple[Path, Any]]:
    """(path, replacement) pairs for every position of `value`; path () is the payload itself."""
    schema = resolve(root, schema)
    for replacement in replacements(schema, value):
        yield path, replacement
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for name, item in value.items():
            yield (*path, name), DROP
            sub = properties.get(name, extra if isinstance(extra, dict) else {})
            yield from mutations(root, sub, item, (*path, name))
    elif isinstance(value, list):
        for index, item in enumerate(value[:2]):
            yield from mutations(root, schema.get("items", {}), item, (*path, index))


def applied(payload: Any, changes: list[tuple[Path, Any]]) -> Any:
    """`payload` with the changes made, copying only the containers on each change's path."""
    for path, replacement in changes:
        payload = _replaced(payload, path, replacement)
    return payload


def _replaced(value: Any, path: Path, replacement: Any) -> Any:
    if not path:
        return replacement  # shared, never changed: neither check mutates a payload
    step, rest = path[0], path[1:]
    if isinstance(value, dict) and step in value:
        result: Any = dict(value)
    elif isinstance(value, list) and isinstance(step, int) and step < len(value):
        result = list(value)
    else:
        return value  # an earlier change removed or replaced this position
    if replacement is DROP and not rest:
        del result[step]
    else:
        result[step] = _replaced(value[step], rest, replacement)
    return result


def seeds(key: tuple[OcppVersion, str, SchemaKind]) -> list[Any]:
    compiled = PLAIN_REGISTRY.compiled(*key)
    assert compiled is not None
    root = compiled.validator.schema  # type: ignore[attr-defined]
    return [example(root, root, full=False), example(root, root, full=True)]


def cases(key: tuple[OcppVersion, str, SchemaKind]) -> list[Any]:
    """Single breakages of each seed: all of them, or a fixed sample of CASES_PER_SEED."""
    compiled = PLAIN_REGISTRY.compiled(*key)
    assert compiled is not None
    root = compiled.validator.schema  # type: ignore[attr-defined]
    payloads = []
    for seed in seeds(key):
        changes = list(mutations(root, root, seed))
        if len(changes) > CASES_PER_SEED:
            changes = random.Random(repr(key)).sample(changes, CASES_PER_SEED)
        payloads += [applied(seed, [change]) for change in changes]
    return payloads


# -- the differential tests ---------------------------------------------------------------------


def test_every_ocpp_schema_has_a_fast_check() -> None:
    for registry in REGISTRIES.values():
        for key in SCHEMAS:
            compiled = registry.compiled(*key)
            assert compiled is not None
            assert compiled.accepts is not None, key


@pytest.mark.parametrize("key", SCHEMAS, ids=lambda key: f"{key[0]}-{key[1]}-{key[2]}")
def test_fast_check_agrees_with_jsonschema(key: tuple[OcppVersion, str, SchemaKind]) -> None:
    for seed in seeds(key):
        assert jsonschema_accepts(PLAIN_REGISTRY, key, seed), ("bad seed", seed)
        assert fast_accepts(PLAIN_REGISTRY, key, seed), seed
    rejected = 0
    for payload in cases(key):
        for registry in REGISTRIES.values():
            expected = jsonschema_accepts(registry, key, payload)
            assert fast_accepts(registry, key, payload) == expected, payload
            rejected += not expected
    assert rejected  # the mutations do break things


# Payloads as chargers send them (shapes from test_validation and the bench's mix), including
# the open 2.0.1 customData and a 1.6 limit that is a multiple of 0.1 only in decimal.
REAL_PAYLOADS: list[tuple[OcppVersion, str, dict[str, Any]]] = [
    (OcppVersion.V16, "BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "AC22",
                                           "firmwareVersion": "4.2.1"}),
    (OcppVersion.V16, "StatusNotification", {"connectorId": 1, "errorCode": "NoError",
                                             "status": "Charging", "timestamp": NOW}),
    (OcppVersion.V16, "MeterValues", {"connectorId": 1, "transactionId": 7, "meterValue": [
        {"timestamp": NOW, "sampledValue": [
            {"value": "1234.5", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": "21", "unit": "Celsius", "measurand": "Temperature"}]}]}),
    (OcppVersion.V16, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 21.4, "numberPhases": 3}]}}}),
    (OcppVersion.V201, "TransactionEvent", {
        "eventType": "Updated", "timestamp": NOW, "triggerReason": "MeterValuePeriodic",
        "seqNo": 17, "transactionInfo": {"transactionId": "tx-1", "chargingState": "Charging"},
        "evse": {"id": 1, "connectorId": 1},
        "meterValue": [{"timestamp": NOW, "sampledValue": [
            {"value": 12.5, "measurand": "Energy.Active.Import.Register",
             "unitOfMeasure": {"unit": "Wh", "multiplier": 0}},
            {"value": 7360, "measurand": "Power.Active.Import", "phase": "L1"}]}],
        "customData": {"vendorId": "com.example", "anything": [1, 2]}}),
    (OcppVersion.V21, "BootNotification", {"reason": "PowerUp", "chargingStation": {
        "model": "AC22", "vendorName": "Acme", "modem": {"iccid": "8931", "imsi": "2620"}}}),
]  # fmt: skip


@pytest.mark.parametrize(("version", "action", "payload"), REAL_PAYLOADS, ids=lambda x: str(x)[:20])
def test_real_payloads_and_their_breakages_agree(
    version: OcppVersion, action: str, payload: dict[str, Any]
) -> None:
    key: tuple[OcppVersion, str, SchemaKind] = (version, action, "request")
    compiled = PLAIN_REGISTRY.compiled(*key)
    assert compiled is not None
    root = compiled.validator.schema  # type: ignore[attr-defined]
    assert fast_accepts(PLAIN_REGISTRY, key, payload)
    for change in mutations(root, root, payload):
        broken = applied(payload, [change])
        for registry in REGISTRIES.values():
            assert fast_accepts(registry, key, broken) == jsonschema_accepts(registry, key, broken)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_combined_mutations_agree(data: st.DataObject) -> None:
    """Several breakages at once, anywhere in the payload (including deep list items)."""
    key = data.draw(st.sampled_from(SCHEMAS))
    compiled = PLAIN_REGISTRY.compiled(*key)
    assert compiled is not None
    root = compiled.validator.schema  # type: ignore[attr-defined]
    seed = data.draw(st.sampled_from(seeds(key)))
    options = list(mutations(root, root, seed))
    changes = data.draw(st.lists(st.sampled_from(options), max_size=4))
    payload = applied(seed, changes)
    for registry in REGISTRIES.values():
        assert fast_accepts(registry, key, payload) == jsonschema_accepts(registry, key, payload)


class Colour(enum.StrEnum):
    RED = "Accepted"


class Number(enum.IntEnum):
    ONE = 1


class Text(str):
    def __len__(self) -> int:
        return 0


@pytest.mark.parametrize("odd", [Colour.RED, Number.ONE, Decimal("1"), Text("x" * 999), (1,)])
def test_values_that_are_not_plain_json_go_to_jsonschema(odd: Any) -> None:
    """Only orjson's own types are judged; anything else is left to jsonschema entirely."""
    rng = random.Random(7)
    for key in rng.sample(SCHEMAS, 40):
        compiled = PLAIN_REGISTRY.compiled(*key)
        assert compiled is not None
        root = compiled.validator.schema  # type: ignore[attr-defined]
        seed = seeds(key)[1]
        for path, _ in mutations(root, root, seed):
            payload = applied(seed, [(path, odd)])
            assert not fast_accepts(PLAIN_REGISTRY, key, payload)


def test_a_str_enum_value_still_passes_through_jsonschema() -> None:
    call = Call("1", "Heartbeat", {})
    validate_call(call, OcppVersion.V16)
    payload = {"chargePointVendor": Colour.RED, "chargePointModel": "M"}
    validate_call(Call("1", "BootNotification", payload), OcppVersion.V16)


# -- keywords and validators OCPP does not exercise ---------------------------------------------

Exact4 = extend(Draft4Validator, {"multipleOf": exact_multiple_of})
Exact6 = extend(Draft6Validator, {"multipleOf": exact_multiple_of})


@pytest.mark.parametrize(
    ("cls", "schema", "instances"),
    [
        # draft-04 integers are ints only; draft-06 accepts 1.0 (never bool).
        (Exact4, {"type": "integer"}, [1, 1.0, True, 1.5, "1"]),
        (Exact6, {"type": "integer"}, [1, 1.0, True, 1.5, "1", 1e300]),
        (Exact6, {"minLength": 2, "maxLength": 3}, ["", "ab", "abcd", 5, None, ["a"]]),
        (Exact6, {"type": ["string", "null"], "maxLength": 1}, [None, "a", "ab", 1, False]),
        (Exact6, {"type": ["integer", "array"], "minimum": 2, "maxItems": 1},
         [1, 2, 2.0, [], [1, 2], "x"]),
        (Exact6, {"enum": ["a", "b"]}, ["a", "c", 1, None, ["a"]]),
        (Exact6, {"minimum": 0, "multipleOf": 0.5}, [1, -1, 0.5, 0.25, "x", True]),
        (Exact4, {"type": "number", "maximum": 10}, [10, 10.0, 10.5, float("nan"), True]),
        (Exact6, {"items": {"type": "string"}, "minItems": 1}, [[], ["a"], [1], "x", {}]),
        (Exact6, {"additionalProperties": {"type": "integer"}, "properties": {"a": {}}},
         [{"a": "x"}, {"b": 1}, {"b": "x"}, [], 1]),
        (Exact6, {"definitions": {"n": {"type": "object", "properties": {"n": {"$ref": "#"}}}},
                  "$ref": "#/definitions/n"},
         [{}, {"n": {}}, {"n": {"n": 1}}, {"n": {"n": {"n": []}}}]),
        (Exact6, {"type": "object", "properties": {"x": {"$ref": "#"}}, "required": ["y"]},
         [{"y": 1}, {"y": 1, "x": {"y": 2}}, {"y": 1, "x": {}}, {"x": {"y": 1}}]),
        (Exact6, {"$ref": "#/definitions/a", "type": "string",  # siblings of $ref are ignored
                  "definitions": {"a": {"type": "integer"}}}, [1, "x"]),
    ],
)  # fmt: skip
def test_keywords_beyond_ocpp(cls: Any, schema: dict[str, Any], instances: list[Any]) -> None:
    validator = cls(schema)
    accepts = compile_check(validator)
    assert accepts is not None
    for instance in instances:
        assert accepts(instance) == validator.is_valid(instance), instance


@pytest.mark.parametrize(
    ("cls", "schema"),
    [
        (Exact6, {"pattern": "^a"}),
        (Exact6, {"const": "a"}),
        (Exact6, {"properties": {"a": {"uniqueItems": True}}}),
        (Exact6, {"patternProperties": {"^x": {}}}),
        (Exact6, {"exclusiveMinimum": 1}),
        (Exact4, {"minimum": 1, "exclusiveMinimum": True}),  # a modifier, not a keyword, in 4
        (Exact6, {"items": [{"type": "string"}]}),
        (Exact6, {"properties": {"a": True}}),
        (Exact6, {"enum": ["a", 1]}),
        (Exact6, {"properties": {"a": {"$id": "other", "type": "string"}}}),
        (Exact6, {"$ref": "other.json#/definitions/a"}),
        (Exact6, {"$ref": "#/definitions/a~1b", "definitions": {"a/b": {}}}),
        (Exact6, {"anyOf": [{"type": "string"}]}),
        (Draft6Validator, {"multipleOf": 0.1}),  # stock float multipleOf is not mirrored
        (Draft7Validator, {"type": "string"}),
        (extend(Draft6Validator, {"maxLength": lambda *args: ()}), {"maxLength": 1}),
    ],
)
def test_anything_not_mirrored_gets_no_fast_check(cls: Any, schema: dict[str, Any]) -> None:
    assert compile_check(cls(schema)) is None


def test_exceptions_leave_the_payload_to_jsonschema() -> None:
    validator = Exact6({"multipleOf": 0.1})
    accepts = compile_check(validator)
    assert accepts is not None
    assert accepts(float("inf")) is False  # Fraction("inf") raises; jsonschema raises too
    with pytest.raises(ValueError):
        validator.is_valid(float("inf"))
