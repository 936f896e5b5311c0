"""Error-code spelling per version and FrameError -> CALLERROR."""

from __future__ import annotations

import pickle

import orjson
import pytest

import sy_codec
from sy_codec import (
    CallError,
    ErrorKind,
    FrameError,
    OcppVersion,
    encode,
    error_code,
    is_error_code,
)

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21

# OCPP-J 1.6 §4.2.3 Table 7 (typos kept per OCPP-J 1.6 errata §5.1/§5.2) and
# 2.0.1 Part 4 §4.3 Table 8. The two 1.6 rows marked * have no 1.6 code of their own.
TABLE = {
    ErrorKind.FORMAT: ("FormationViolation", "FormatViolation"),
    ErrorKind.GENERIC: ("GenericError", "GenericError"),
    ErrorKind.INTERNAL: ("InternalError", "InternalError"),
    ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED: ("NotSupported", "MessageTypeNotSupported"),  # *
    ErrorKind.NOT_IMPLEMENTED: ("NotImplemented", "NotImplemented"),
    ErrorKind.NOT_SUPPORTED: ("NotSupported", "NotSupported"),
    ErrorKind.OCCURRENCE_CONSTRAINT: (
        "OccurenceConstraintViolation",
        "OccurrenceConstraintViolation",
    ),
    ErrorKind.PROPERTY_CONSTRAINT: ("PropertyConstraintViolation", "PropertyConstraintViolation"),
    ErrorKind.PROTOCOL: ("ProtocolError", "ProtocolError"),
    ErrorKind.RPC_FRAMEWORK: ("FormationViolation", "RpcFrameworkError"),  # *
    ErrorKind.SECURITY: ("SecurityError", "SecurityError"),
    ErrorKind.TYPE_CONSTRAINT: ("TypeConstraintViolation", "TypeConstraintViolation"),
}

CODES_16 = {
    "NotImplemented",
    "NotSupported",
    "InternalError",
    "ProtocolError",
    "SecurityError",
    "FormationViolation",
    "PropertyConstraintViolation",
    "OccurenceConstraintViolation",
    "TypeConstraintViolation",
    "GenericError",
}
CODES_201 = {
    "FormatViolation",
    "GenericError",
    "InternalError",
    "MessageTypeNotSupported",
    "NotImplemented",
    "NotSupported",
    "OccurrenceConstraintViolation",
    "PropertyConstraintViolation",
    "ProtocolError",
    "RpcFrameworkError",
    "SecurityError",
    "TypeConstraintViolation",
}


def test_table_covers_every_kind() -> None:
    assert set(TABLE) == set(ErrorKind)


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_error_code_spelling(kind: ErrorKind) -> None:
    v16, v2x = TABLE[kind]
    assert error_code(kind, V16) == v16
    assert error_code(kind, V201) == v2x
    assert error_code(kind, V21) == v2x


@pytest.mark.parametrize(
    ("version", "codes"), [(V16, CODES_16), (V201, CODES_201), (V21, CODES_201)]
)
def test_every_kind_maps_into_the_versions_table(version: OcppVersion, codes: set[str]) -> None:
    assert {error_code(kind, version) for kind in ErrorKind} == codes


@pytest.mark.parametrize(
    ("version", "codes"), [(V16, CODES_16), (V201, CODES_201), (V21, CODES_201)]
)
def test_is_error_code_accepts_the_table(version: OcppVersion, codes: set[str]) -> None:
    assert all(is_error_code(code, version) for code in codes)


@pytest.mark.parametrize(
    ("code", "version"),
    [
        # The corrected spellings are not 1.6 codes (errata §5.1/§5.2 "do not fix") ...
        ("FormatViolation", V16),
        ("OccurrenceConstraintViolation", V16),
        ("RpcFrameworkError", V16),
        ("MessageTypeNotSupported", V16),
        # ... and the 1.6 typos are not 2.x codes.
        ("FormationViolation", V201),
        ("OccurenceConstraintViolation", V201),
        ("FormationViolation", V21),
        ("notimplemented", V201),
        ("NotImplemented ", V16),
        ("", V16),
    ],
)
def test_is_error_code_rejects(code: str, version: OcppVersion) -> None:
    assert not is_error_code(code, version)


def test_to_call_error_keeps_a_readable_id() -> None:
    error = FrameError(ErrorKind.PROTOCOL, "CALL must have 4 elements", message_id="42")
    assert error.to_call_error(V201) == CallError(
        "42", "ProtocolError", "CALL must have 4 elements", {}
    )


@pytest.mark.parametrize("version", [V16, V201, V21])
def test_to_call_error_uses_minus_one_for_unreadable_id(version: OcppVersion) -> None:
    # 2.0.1 Part 4 §4.2.3.
    call_error = FrameError(ErrorKind.FORMAT, "bad").to_call_error(version)
    assert call_error.message_id == "-1"
    assert call_error.error_code == error_code(ErrorKind.FORMAT, version)


def test_to_call_error_never_echoes_an_over_long_id() -> None:
    error = FrameError(ErrorKind.RPC_FRAMEWORK, "bad", message_id="x" * 37)
    assert error.to_call_error(V201).message_id == "-1"


def test_to_call_error_truncates_description_to_255() -> None:
    # 2.0.1 Part 4 §4.2.3 Table 7: ErrorDescription is string[255].
    error = FrameError(ErrorKind.GENERIC, "é" * 1000, message_id="1")
    description = error.to_call_error(V16).description
    assert len(description) == 255
    assert description.startswith("é" * 254)
    assert error.description == "é" * 1000


def test_short_description_is_kept_whole() -> None:
    error = FrameError(ErrorKind.GENERIC, "x" * 255, message_id="1")
    assert error.to_call_error(V16).description == "x" * 255


@pytest.mark.parametrize("version", [V16, V201, V21])
def test_encoded_call_error_is_a_five_element_frame(version: OcppVersion) -> None:
    error = FrameError(ErrorKind.TYPE_CONSTRAINT, 'quote " and \\ backslash', message_id="7")
    frame = orjson.loads(encode(error.to_call_error(version)))
    assert frame == [4, "7", "TypeConstraintViolation", 'quote " and \\ backslash', {}]


def test_frame_error_is_an_exception_with_its_description() -> None:
    error = FrameError(ErrorKind.SECURITY, "not accepted yet", message_id="1", answerable=False)
    assert isinstance(error, Exception)
    assert str(error) == "not accepted yet"
    assert (error.kind, error.message_id, error.answerable) == (ErrorKind.SECURITY, "1", False)
    assert "SECURITY" in repr(error)


def test_frame_error_defaults_to_answerable_without_id() -> None:
    error = FrameError(ErrorKind.FORMAT, "bad")
    assert error.answerable is True
    assert error.message_id is None


def test_public_api_is_exported() -> None:
    for name in sy_codec.__all__:
        assert hasattr(sy_codec, name), name
    assert sy_codec.MAX_MESSAGE_ID_LENGTH == 36
    assert [v.value for v in OcppVersion] == ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]
    assert [int(t) for t in sy_codec.MessageType] == [2, 3, 4, 5, 6]


def test_message_types_per_version() -> None:
    mt = sy_codec.MessageType
    assert sy_codec.message_types(V16) == {mt.CALL, mt.CALLRESULT, mt.CALLERROR}
    assert sy_codec.message_types(V201) == {mt.CALL, mt.CALLRESULT, mt.CALLERROR}
    assert sy_codec.message_types(V21) == set(mt)


def test_frame_error_survives_pickling() -> None:
    error = FrameError(ErrorKind.PROTOCOL, "bad", message_id="9", answerable=False)
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.kind, clone.description, clone.message_id, clone.answerable) == (
        ErrorKind.PROTOCOL,
        "bad",
        "9",
        False,
    )
