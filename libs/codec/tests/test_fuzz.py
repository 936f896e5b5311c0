"""Property-based fuzzing of the codec: whatever arrives, decode either returns a message or
raises FrameError, and every CALLERROR it produces is a valid frame for the version."""

from __future__ import annotations

import string
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from sy_codec import (
    MAX_DESCRIPTION_LENGTH,
    MAX_MESSAGE_ID_LENGTH,
    Call,
    CallError,
    CallResult,
    FrameError,
    OcppVersion,
    decode,
    encode,
    is_error_code,
    known_actions,
    validate_call,
)

VERSIONS = st.sampled_from(list(OcppVersion))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
frame_like = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200),
    st.lists(json_values, max_size=6).map(lambda v: orjson.dumps(v).decode()),
    st.tuples(
        st.integers(min_value=-1, max_value=8) | json_values,
        st.text(max_size=40) | json_values,
        st.text(string.ascii_letters, max_size=30) | json_values,
        json_values,
    ).map(lambda t: orjson.dumps(list(t)).decode()),
)


def _check_error(err: FrameError, version: OcppVersion) -> None:
    answer = err.to_call_error(version)
    assert is_error_code(answer.error_code, version)
    assert len(answer.message_id) <= MAX_MESSAGE_ID_LENGTH
    assert len(answer.description) <= MAX_DESCRIPTION_LENGTH
    assert decode(encode(answer), version) == answer


@settings(max_examples=600, deadline=None)
@given(frame=frame_like, version=VERSIONS)
def test_decode_never_raises_anything_else(frame: str | bytes, version: OcppVersion) -> None:
    try:
        message = decode(frame, version)
    except FrameError as err:
        _check_error(err, version)
        return
    assert decode(encode(message), version) == message


ids = st.text(min_size=1, max_size=MAX_MESSAGE_ID_LENGTH)
payloads = st.dictionaries(st.text(max_size=10), json_values, max_size=5)


@settings(max_examples=300, deadline=None)
@given(message_id=ids, action=st.text(max_size=30), payload=payloads, version=VERSIONS)
def test_round_trip(
    message_id: str, action: str, payload: dict[str, Any], version: OcppVersion
) -> None:
    for message in (
        Call(message_id, action, payload),
        CallResult(message_id, payload),
        CallError(message_id, "GenericError", action, payload),
    ):
        assert decode(encode(message), version) == message


@settings(max_examples=400, deadline=None)
@given(data=st.data(), version=st.sampled_from([OcppVersion.V16, OcppVersion.V201]))
def test_validation_only_raises_frame_errors(data: st.DataObject, version: OcppVersion) -> None:
    action = data.draw(st.sampled_from(sorted(known_actions(version))))
    payload = data.draw(payloads)
    try:
        validate_call(Call("1", action, payload), version)
    except FrameError as err:
        assert err.answerable
        _check_error(err, version)
