"""A yes/no validity check compiled from a jsonschema validator, for the valid-payload hot path.

Why: jsonschema's `iter_errors` dispatches every keyword dynamically, resolves each `$ref` through
`referencing` on every use and builds error objects; the edge spent ~18 % of its CPU there, nearly
all of it on payloads that turn out valid. For those, "is it valid?" is all that is needed.
`compile_check` turns a validator's schema once into nested closures answering exactly that;
`validation` asks jsonschema only when the answer is no, so jsonschema alone still decides the
kind and the description of every error.

The contract is one-sided: a check may answer False for a payload jsonschema accepts (that only
costs the slow path) but must never answer True for one it rejects. Hence:

* Only plain JSON values are judged: exactly dict, list, str, int, float, bool and None, which is
  all orjson produces. Anything else (StrEnum members, Decimal, tuples, subclasses) answers False.
* Drafts 4 and 6 only (1.6 ships both, 2.0.1 and 2.1 are draft-06), and only while the validator
  class uses jsonschema's own functions for the keywords mirrored here (or `exact_multiple_of`).
* A schema using any keyword not mirrored here gets no check at all (`compile_check` -> None).
  Keywords jsonschema does not know (javaType, comment, description, definitions, ...) are
  ignored by it and so here, except `id` / `$id` below the root, which would move `$ref`'s base.
* Any exception while checking answers False, so jsonschema meets the payload as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

from jsonschema import Draft4Validator, Draft6Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

Check = Callable[[Any], bool]

_PLAIN = frozenset({dict, list, str, int, float, bool, type(None)})

# Which instances a keyword looks at (jsonschema's `validator.is_type(instance, ...)` guards);
# for plain values these are exact types. None: every instance (enum, format).
_DOMAIN_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "array": (list,),
    "object": (dict,),
}
_DOMAIN_OF_TYPE = {
    "string": "string",
    "number": "number",
    "integer": "number",
    "array": "array",
    "object": "object",
    "boolean": "boolean",
    "null": "null",
}
_KEYWORD_DOMAINS = {
    "minLength": "string",
    "maxLength": "string",
    "minimum": "number",
    "maximum": "number",
    "multipleOf": "number",
    "items": "array",
    "additionalItems": "array",
    "minItems": "array",
    "maxItems": "array",
    "properties": "object",
    "required": "object",
    "additionalProperties": "object",
    "type": None,
    "enum": None,
    "format": None,
}
# Not validation keywords in draft 4, but they change what `minimum` / `maximum` mean there.
_DRAFT4_MODIFIERS = frozenset({"exclusiveMinimum", "exclusiveMaximum"})
_BASES: tuple[tuple[Any, int], ...] = ((Draft4Validator, 4), (Draft6Validator, 6))


class Unsupported(Exception):
    """The schema (or validator) uses something this module does not mirror."""


def is_decimal_multiple(value: int | float, divisor: Fraction) -> bool:
    """Whether the decimal `value` the peer sent is an exact multiple of `divisor`."""
    return (Fraction(repr(value)) / divisor).denominator == 1


def exact_multiple_of(validator: Any, divisor: Any, instance: Any, schema: Any) -> Any:
    """`multipleOf` on decimal values instead of binary floats (a jsonschema keyword function).

    The 1.6 charging-profile schemas demand `multipleOf: 0.1`; with binary floats 21.4 / 0.1 is
    213.99999999999997 and a valid limit would be rejected. The shortest repr of a float is the
    decimal the peer actually sent, so comparing those exactly gives the intended answer without
    re-parsing (and so without copying or mutating) the payload. It lives here so the registry's
    validators and the fast checks share one definition of "multiple".
    """
    if not validator.is_type(instance, "number"):
        return
    if not is_decimal_multiple(instance, Fraction(repr(divisor))):
        yield ValidationError(f"{instance!r} is not a multiple of {divisor!r}")


def compile_check(validator: Any) -> Check | None:
    """A function telling whether `validator.iter_errors(payload)` would yield nothing.

    True means valid; False means "ask `validator`" (see the module docstring). None when the
    validator's class, format checker or schema uses anything not mirrored here.
    """
    try:
        check = _Compiler(validator).root()
    except Unsupported:
        return None

    def accepts(payload: Any) -> bool:
        try:
            return check(payload)
        except Exception:  # e.g. Fraction("nan"): let jsonschema meet it exactly as before
            return False

    return accepts


class _Compiler:
    def __init__(self, validator: Any) -> None:
        cls = type(validator)
        for base, draft in _BASES:
            if (
                cls.META_SCHEMA == base.META_SCHEMA  # `extend` copies it
                and cls.TYPE_CHECKER is base.TYPE_CHECKER
                # Drafts 4 and 6 ignore the siblings of "$ref" (JSON Reference, draft-pbryan-
                # zyp-json-ref-03 §3: other members "SHALL be ignored"); `_node` does the same.
                and getattr(cls, "_APPLICABLE_VALIDATORS", None)
                is getattr(base, "_APPLICABLE_VALIDATORS", False)
            ):
                self._draft, self._base = draft, base
                break
        else:
            raise Unsupported(cls)
        self._keywords: dict[str, Any] = cls.VALIDATORS
        self._schema: Any = validator.schema
        self._format_checker: Any = validator.format_checker
        self._refs: dict[str, Check] = {}

    def root(self) -> Check:
        return self._node(self._schema, root=True)

    # -- one schema -----------------------------------------------------------------------------

    def _node(self, schema: Any, *, root: bool = False) -> Check:
        if not isinstance(schema, dict):
            # Boolean schemas (draft-06) and lists of item schemas: OCPP uses neither.
            raise Unsupported(f"schema of type {type(schema).__name__}")
        if "$ref" in schema:
            return self._ref(schema["$ref"])
        self._vet(schema, root)

        type_test, node_domain = self._type_test(schema.get("type"))
        checks = [type_test]
        for domain, check in self._keyword_checks(schema):
            if domain is None or domain == node_domain:
                checks.append(check)
            elif node_domain is None:
                # Untyped or multi-typed node: the keyword only looks at its own kind of value.
                checks.append(_gated(_DOMAIN_TYPES[domain], check))
            # else: `type` already rejects every value this keyword would look at.
        return _all(checks)

    def _vet(self, schema: dict[str, Any], root: bool) -> None:
        for key in schema:
            if key in ("id", "$id"):
                if not root:
                    raise Unsupported(key)
            elif key in self._keywords:
                if key not in _KEYWORD_DOMAINS or not self._mirrors(key):
                    raise Unsupported(key)
            elif self._draft == 4 and key in _DRAFT4_MODIFIERS:
                raise Unsupported(key)

    def _mirrors(self, keyword: str) -> bool:
        function = self._keywords[keyword]
        if keyword == "multipleOf":
            return function is exact_multiple_of
        return bool(function is self._base.VALIDATORS.get(keyword))

    def _type_test(self, types: Any) -> tuple[Check, str | None]:
        if types is None:
            return _is_plain, None
        names = [types] if isinstance(types, str) else types
        if not isinstance(names, list) or not names:
            raise Unsupported(f"type {types!r}")
        tests = [self._single_type_test(name) for name in names]
        if len(tests) == 1:
            return tests[0], _DOMAIN_OF_TYPE[names[0]]
        return (lambda v: any(test(v) for test in tests)), None

    def _single_type_test(self, name: Any) -> Check:
        if not isinstance(name, str):
            raise Unsupported(f"type {name!r}")
        if name == "integer":
            # Draft-06 made "integer" any number with a zero fractional part, so 1.0 passes;
            # jsonschema's draft-04 checker accepts only int. Neither accepts bool.
            return _is_integer_draft6 if self._draft == 6 else _is_int
        test = _TYPE_TESTS.get(name)
        if test is None:
            raise Unsupported(f"type {name!r}")
        return test

    def _keyword_checks(self, schema: dict[str, Any]) -> Iterator[tuple[str | None, Check]]:
        """(domain, check that assumes its value is in that domain) per group of keywords."""
        string = _string_check(schema)
        if string is not None:
            yield "string", string
        number = _number_check(schema)
        if number is not None:
            yield "number", number
        array = self._array_check(schema)
        if array is not None:
            yield "array", array
        obj = self._object_check(schema)
        if obj is not None:
            yield "object", obj
        if "enum" in schema:
            yield None, _enum_check(schema["enum"])
        if "format" in schema and self._format_checker is not None:
            # Exactly jsonschema's `format` keyword: the registry's checker decides, including
            # that formats it has no checker for ("uri" in 1.6) pass.
            conforms, name = self._format_checker.conforms, schema["format"]
            yield None, lambda v: bool(conforms(v, name))

    # -- containers -----------------------------------------------------------------------------

    def _array_check(self, schema: dict[str, Any]) -> Check | None:
        items = schema.get("items")
        if "additionalItems" in schema and not (items is None or isinstance(items, dict)):
            raise Unsupported("additionalItems")  # only applies next to a list of item schemas
        item = None if items is None else self._node(items)
        low: int = schema.get("minItems", 0)
        high: int | None = schema.get("maxItems")
        if item is None and not low and high is None:
            return None

        def check(v: list[Any]) -> bool:
            if len(v) < low or (high is not None and len(v) > high):
                return False
            return item is None or all(map(item, v))

        return check

    def _object_check(self, schema: dict[str, Any]) -> Check | None:
        properties = {name: self._node(sub) for name, sub in schema.get("properties", {}).items()}
        required = frozenset(schema.get("required", ()))
        extra_schema = schema.get("additionalProperties", True)
        extra: Check | None = None
        if isinstance(extra_schema, dict):
            extra = self._node(extra_schema)
        elif not isinstance(extra_schema, bool):
            raise Unsupported("additionalProperties")
        closed = extra_schema is False
        if not properties and not required and extra is None and not closed:
            return None
        lookup = properties.get

        def check(v: dict[Any, Any]) -> bool:
            if required and not v.keys() >= required:
                return False
            for key, value in v.items():
                sub = lookup(key)
                if sub is None:
                    sub = extra
                    if sub is None:
                        if closed:
                            return False
                        continue
                if not sub(value):
                    return False
            return True

        return check

    def _ref(self, ref: Any) -> Check:
        compiled = self._refs.get(ref)
        if compiled is None:
            target = self._resolve(ref)
            # A schema may reach itself through $ref; until it is compiled, go through a cell.
            cell: list[Check] = []
            self._refs[ref] = lambda v: cell[0](v)
            compiled = self._node(target)
            cell.append(compiled)
            self._refs[ref] = compiled
        return compiled

    def _resolve(self, ref: Any) -> Any:
        """A JSON pointer into this same document ("#/definitions/X"), the only kind OCPP uses."""
        if not isinstance(ref, str) or not ref.startswith("#") or "~" in ref or "%" in ref:
            raise Unsupported(f"$ref {ref!r}")
        target = self._schema
        for token in ref[1:].split("/")[1:]:
            if not isinstance(target, dict) or token not in target:
                raise Unsupported(f"$ref {ref!r}")
            target = target[token]
        return target


# -- leaves -------------------------------------------------------------------------------------


def _string_check(schema: dict[str, Any]) -> Check | None:
    low: int = schema.get("minLength", 0)
    high: int | None = schema.get("maxLength")
    if high is None:
        return (lambda v: len(v) >= low) if low else None
    return lambda v: low <= len(v) <= high


def _number_check(schema: dict[str, Any]) -> Check | None:
    checks: list[Check] = []
    if "minimum" in schema:
        low = schema["minimum"]
        checks.append(lambda v: not v < low)  # jsonschema fails on `instance < minimum`
    if "maximum" in schema:
        high = schema["maximum"]
        checks.append(lambda v: not v > high)
    if "multipleOf" in schema:
        divisor = Fraction(repr(schema["multipleOf"]))
        checks.append(lambda v: is_decimal_multiple(v, divisor))
    return _all(checks) if checks else None


def _enum_check(choices: Any) -> Check:
    # jsonschema compares a str to each choice with ==, so for plain strings this is set
    # membership. Every OCPP enum is a list of strings; anything else is not mirrored.
    if not isinstance(choices, list) or not all(type(each) is str for each in choices):
        raise Unsupported("enum")
    allowed = frozenset(choices)
    return lambda v: type(v) is str and v in allowed


def _is_plain(v: Any) -> bool:
    return type(v) in _PLAIN


def _is_int(v: Any) -> bool:
    return type(v) is int


def _is_integer_draft6(v: Any) -> bool:
    return type(v) is int or (type(v) is float and v.is_integer())


_TYPE_TESTS: dict[str, Check] = {
    "object": lambda v: type(v) is dict,
    "array": lambda v: type(v) is list,
    "string": lambda v: type(v) is str,
    "number": lambda v: type(v) is int or type(v) is float,
    "boolean": lambda v: type(v) is bool,
    "null": lambda v: v is None,
}


def _gated(types: tuple[type, ...], check: Check) -> Check:
    return lambda v: type(v) not in types or check(v)


def _all(checks: list[Check]) -> Check:
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda v: first(v) and second(v)
    every = tuple(checks)
    return lambda v: all(check(v) for check in every)
