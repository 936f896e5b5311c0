"""Where each event is published: `sy.events.<type>.<chargerToken>` on SY_EVENTS.

Fleet-wide events (a change of the default route) have no charger; they use the token of the
empty id, `=`, which no charger can have (an OCPP identity is at least one character).
"""

from __future__ import annotations

from sy_bus import subjects
from sy_events.models import EventBase

FLEET_TOKEN = subjects.charger_token("")


def subject_for(event: EventBase) -> str:
    event_type = type(event).model_fields["type"].default
    assert isinstance(event_type, str)
    return subjects.events(event_type, event.charger_id or "")


def of_type(event_type: str) -> str:
    """Filter subject for one event type, every charger: `sy.events.<type>.*`."""
    return subjects.EVENTS_ALL.replace(">", f"{event_type}.*")
