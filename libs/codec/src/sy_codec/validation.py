"""Payload validation against the action's JSON schema, reported as `FrameError`.

The failing jsonschema keyword decides the kind (2.0.1 Part 4 §4.3, OCPP-J 1.6 §4.2.3):

* required, minItems, maxItems, min/maxProperties -> OCCURRENCE_CONSTRAINT: a field or list entry
  occurs too few or too many times.
* type -> TYPE_CONSTRAINT, the spec's own example being `"somestring": 12`.
* enum, const, min/maxLength, pattern, (exclusive) minimum/maximum, multipleOf, format ->
  PROPERTY_CONSTRAINT: right type, invalid value. The OCPP 1.6 errata sheet §3.24 uses it for an
  invalid enum value (chargingRateUnit).
* additionalProperties -> FORMAT. An undeclared field means the payload does not conform to the
  action's PDU; 1.6 names that FormationViolation, the 1.6-J errata §5.2 says its intended name is
  FormatViolation (the 2.0.1 spelling), and the `ocpp` package's `_validate_payload` maps this
  keyword to FormatViolation too, so peers built on it see the same code. 2.0.1's ProtocolError
  (the PDU-structure code) is arguable; this codec keeps it for the RPC frame's own layout.
* anything else -> FORMAT, the generic "payload does not match the action's PDU".

When several fields are wrong, jsonschema's `best_match` picks the one reported: the shallowest
error, so a missing top-level field wins over a bad value deep inside a list.

A valid payload first meets the schema's fast check (`fastcheck`), which never accepts what
jsonschema rejects; only a payload it does not accept goes through jsonschema, so every error
is still found, classified and described by jsonschema alone.
"""

from __future__ import annotations

from typing import Any

from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

from .errors import ErrorKind, FrameError, truncate
from .messages import Call, CallResult, OcppVersion, Send
from .schemas import DEFAULT_REGISTRY, SchemaKind, SchemaRegistry

_KIND_BY_KEYWORD: dict[str, ErrorKind] = {
    "required": ErrorKind.OCCURRENCE_CONSTRAINT,
    "minItems": ErrorKind.OCCURRENCE_CONSTRAINT,
    "maxItems": ErrorKind.OCCURRENCE_CONSTRAINT,
    "minProperties": ErrorKind.OCCURRENCE_CONSTRAINT,
    "maxProperties": ErrorKind.OCCURRENCE_CONSTRAINT,
    "type": ErrorKind.TYPE_CONSTRAINT,
    "enum": ErrorKind.PROPERTY_CONSTRAINT,
    "const": ErrorKind.PROPERTY_CONSTRAINT,
    "maxLength": ErrorKind.PROPERTY_CONSTRAINT,
    "minLength": ErrorKind.PROPERTY_CONSTRAINT,
    "pattern": ErrorKind.PROPERTY_CONSTRAINT,
    "minimum": ErrorKind.PROPERTY_CONSTRAINT,
    "maximum": ErrorKind.PROPERTY_CONSTRAINT,
    "exclusiveMinimum": ErrorKind.PROPERTY_CONSTRAINT,
    "exclusiveMaximum": ErrorKind.PROPERTY_CONSTRAINT,
    "multipleOf": ErrorKind.PROPERTY_CONSTRAINT,
    "format": ErrorKind.PROPERTY_CONSTRAINT,
    "additionalProperties": ErrorKind.FORMAT,
}

# jsonschema's messages for these name the violation but not the limit.
_LIMIT_KEYWORDS = frozenset({"maxLength", "minLength", "maxItems", "minItems"})

# Values are quoted in descriptions so an operator can spot them, but a huge value would push
# the part that says what is wrong past the 255-character CALLERROR limit.
_MAX_VALUE_REPR = 40


def known_actions(
    version: OcppVersion, *, registry: SchemaRegistry | None = None
) -> frozenset[str]:
    """Every action `version` defines a request for (CALL actions, plus SEND actions in 2.1)."""
    return (registry or DEFAULT_REGISTRY).actions(version)


def validate_call(
    call: Call | Send, version: OcppVersion, *, registry: SchemaRegistry | None = None
) -> None:
    """Check a request payload against its schema; never modifies `call.payload`.

    Raises `FrameError`: NOT_IMPLEMENTED for an action `version` does not define (2.0.1 Part 4
    §4.1.7 requires a known action), otherwise the kind of the first schema violation. A SEND is
    validated the same way but is never answered, so its errors are not answerable.
    """
    _validate(
        registry or DEFAULT_REGISTRY,
        version,
        call.action,
        "request",
        call.payload,
        call.message_id,
        answerable=isinstance(call, Call),
    )


def validate_result(
    result: CallResult,
    action: str,
    version: OcppVersion,
    *,
    registry: SchemaRegistry | None = None,
) -> None:
    """Check a response payload against the schema of the `action` it answers.

    Raises `FrameError` with `answerable=False`: a bad CALLRESULT is logged, never answered with
    a CALLERROR (OCPP 2.1 peers may choose to send a CALLRESULTERROR instead).
    """
    _validate(
        registry or DEFAULT_REGISTRY,
        version,
        action,
        "response",
        result.payload,
        result.message_id,
        answerable=False,
    )


def _validate(
    registry: SchemaRegistry,
    version: OcppVersion,
    action: str,
    kind: SchemaKind,
    payload: dict[str, Any],
    message_id: str,
    *,
    answerable: bool,
) -> None:
    compiled = registry.compiled(version, action, kind)
    if compiled is None:
        raise FrameError(
            ErrorKind.NOT_IMPLEMENTED,
            f"Action {_short(action)} has no {kind} defined in {version}",
            message_id=message_id,
            answerable=answerable,
        )
    accepts = compiled.accepts
    if accepts is not None and accepts(payload):
        return
    error = best_match(compiled.validator.iter_errors(payload))
    if error is None:
        return
    raise FrameError(
        _KIND_BY_KEYWORD.get(error.validator, ErrorKind.FORMAT),
        _describe(action, error),
        message_id=message_id,
        answerable=answerable,
    )


def _describe(action: str, error: Any) -> str:
    """E.g. "BootNotification: 'chargePointVendor' is a required property", plus where."""
    message: str = error.message
    # jsonschema starts most messages with the offending value's repr; shorten just that part.
    value = repr(error.instance)
    if len(value) > _MAX_VALUE_REPR and message.startswith(value):
        message = truncate(value, _MAX_VALUE_REPR) + message[len(value) :]
    # "is too long" alone leaves the operator guessing the limit.
    if error.validator in _LIMIT_KEYWORDS:
        message = f"{message} ({error.validator} {error.validator_value})"
    if error.path:
        return f"{action}: {message} at {error.json_path}"
    return f"{action}: {message}"


def _short(value: str) -> str:
    return truncate(repr(value), _MAX_VALUE_REPR)
