"""Sessions folded from transaction events: `apply` returns a new session and never changes the
one it was given (the journal keeps the previous value to compare and to roll back a batch)."""

from __future__ import annotations

from datetime import UTC, datetime

from sy_events.models import TransactionAcknowledged
from sy_events.sessions import Session, apply


def _ack(
    backend: str, stage: str, n: int, transaction_id: str | None = None
) -> TransactionAcknowledged:
    return TransactionAcknowledged(
        event_id=f"e{n}",
        charger_id="CP1",
        ts=datetime(2026, 11, 21, 12, 0, n, tzinfo=UTC),
        gateway_transaction_id="gtx-1",
        stage=stage,  # type: ignore[arg-type]
        backend=backend,
        accepted=True,
        transaction_id=transaction_id,
    )


def test_apply_leaves_the_given_session_unchanged() -> None:
    first = apply(None, _ack("legacy", "started", 1, "700"))
    assert isinstance(first, Session)
    before = first.model_dump()
    second = apply(first, _ack("legacy", "updated", 2))
    third = apply(second, _ack("new", "started", 3, "9"))
    assert first.model_dump() == before
    assert second is not None and third is not None
    assert second.acknowledgements["legacy"].updates_acknowledged == 1
    assert first.acknowledgements["legacy"].updates_acknowledged == 0
    assert "new" not in second.backend_transaction_ids and "new" not in second.acknowledgements
    assert third.backends == ["legacy", "new"]
    assert third.backend_transaction_ids == {"legacy": "700", "new": "9"}
