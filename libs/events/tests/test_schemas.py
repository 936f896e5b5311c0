"""The checked-in contract (docs/schemas, docs/asyncapi.yaml) is what the models generate, and
every event the normaliser emits validates against it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from sy_events import EVENT_TYPES, parse_event, subject_for, to_json
from sy_events.samples import Traffic, session_16, session_201
from sy_events.schemas import render

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_checked_in_files_match_the_models() -> None:
    stale = [
        rel
        for rel, content in render().items()
        if not (DOCS / rel).exists() or (DOCS / rel).read_text() != content
    ]
    assert stale == [], f"regenerate with `uv run python -m sy_events.schemas docs/`: {stale}"


def test_every_emitted_event_validates_against_its_schema_file() -> None:
    events = []
    for ocpp, session in (("ocpp1.6", session_16), ("ocpp2.0.1", session_201)):
        t = Traffic(f"CP {ocpp}", ocpp=ocpp)
        session(t)
        t.command("new", "Reset", {"type": "Soft"}, {"status": "Accepted"})
        events += t.events()
    kinds = set()
    any_event = json.loads((DOCS / "schemas/event.json").read_text())
    for event in events:
        doc = json.loads(to_json(event))
        schema = json.loads((DOCS / f"schemas/{doc['type']}.json").read_text())
        jsonschema.validate(doc, schema)
        jsonschema.validate(doc, any_event)
        assert parse_event(to_json(event)) == event
        kinds.add(doc["type"])
    assert len(kinds) >= 9
    # A schema file does reject a wrong event.
    bad = json.loads(to_json(events[0]))
    bad["schema_version"] = 2
    try:
        jsonschema.validate(bad, any_event)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("schema_version 2 was accepted")


def test_asyncapi_names_one_channel_per_event_type() -> None:
    doc = yaml.safe_load((DOCS / "asyncapi.yaml").read_text())
    assert doc["asyncapi"].startswith("3.")
    assert set(doc["channels"]) == set(EVENT_TYPES)
    assert doc["channels"]["transaction_started"]["address"] == (
        "sy.events.transaction_started.{chargerToken}"
    )


def test_subjects() -> None:
    t = Traffic("CP.1 x")
    session_16(t)
    event = t.events()[0]
    assert subject_for(event) == "sy.events.boot_reported.=Q1AuMSB4"
