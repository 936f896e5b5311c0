"""The bench's lean CSMS answers every CALL the bench's chargers send with a CALLRESULT that its
OCPP version's response schema accepts, and refuses what it does not handle the OCPP-J way."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from switchyard_bench.csms_lean import answer
from switchyard_bench.frames import V16, V201, Profile

from sy_codec import CallResult, OcppVersion, validate_result


@pytest.mark.parametrize("version", [V16, V201])
def test_every_bench_call_gets_a_schema_valid_result(version: str) -> None:
    profile = Profile(version, random.Random(3), "SERIAL-1")
    frames = profile.boot_frames() + [profile.next() for _ in range(400)]
    actions = set()
    for action, frame in frames:
        reply = answer(frame, version)
        assert reply is not None, frame
        kind, message_id, payload = json.loads(reply)
        assert kind == 3, reply
        assert message_id == json.loads(frame)[1]
        validate_result(CallResult(message_id, payload), action, OcppVersion(version))
        profile.answered(action, reply)
        actions.add(action)
    assert {"BootNotification", "Heartbeat", "StatusNotification", "Authorize"} <= actions


def test_unknown_action_and_bad_json_get_call_errors() -> None:
    unknown = '[2,"7","FirmwareStatusNotification",{"status":"Idle"}]'
    refused = json.loads(answer(unknown, V16) or "")
    assert refused[:3] == [4, "7", "NotImplemented"]
    assert json.loads(answer("[2,", V201) or "")[:3] == [4, "-1", "FormatViolation"]
    assert json.loads(answer("[2,", V16) or "")[:3] == [4, "-1", "FormationViolation"]
    assert answer('[3,"9",{}]', V16) is None  # an answer needs no answer
