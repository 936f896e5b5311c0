"""The journal's OpenAPI document describes every field and every route."""

from sy_journal.app import build_app
from sy_journal.settings import JournalSettings

# Shapes FastAPI and the platform add themselves (validation errors, auth admin, audit).
FOREIGN = ("HTTPValidationError", "ValidationError")


def test_every_field_has_a_description_and_every_route_a_summary() -> None:
    doc = build_app(JournalSettings(database_url="postgresql://x@127.0.0.1/x")).openapi()
    missing = [
        f"{name}.{prop}"
        for name, schema in doc["components"]["schemas"].items()
        if name not in FOREIGN and not name.startswith(("Token", "Audit", "Principal"))
        for prop, spec in schema.get("properties", {}).items()
        if "description" not in spec
    ]
    assert missing == []
    no_summary = [
        f"{method.upper()} {path}"
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if not op.get("summary")
    ]
    assert no_summary == []
    for path in ("/exports/{kind}", "/reconciliation", "/health", "/replays", "/traces"):
        assert path in doc["paths"]
