"""Connection records: a fleet closing together is written in one statement per batch."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from sy_devkit.inprocess import statements_run
from sy_edge.models import Connection
from sy_edge.recorder import ConnectionRecorder, Opened


async def test_connections_closing_together_are_written_in_one_statement(
    engine: AsyncEngine,
) -> None:
    statements = statements_run(engine)
    recorder = ConnectionRecorder(engine)
    recorder.start()
    n = 300
    at = datetime.now(UTC)
    for i in range(n):
        recorder.opened(Opened(f"conn-{i}", f"CP-{i}", "edge-0", "ocpp1.6", "10.0.0.1:5", at))
    for i in range(0, n, 2):  # half of them close, some in the batch that opened them
        code = None if i % 4 else 1006
        recorder.closed(f"conn-{i}", f"CP-{i}", code, "x" * 300 if i == 0 else "gone")
    await recorder.stop()

    assert statements.count("UPDATE") <= 2, statements  # one per batch, not one per connection
    async with engine.connect() as conn:
        rows = {r.id: r for r in (await conn.execute(select(Connection))).all()}
    assert len(rows) == n
    closed = [r for r in rows.values() if r.disconnected_at is not None]
    assert sorted(r.id for r in closed) == sorted(f"conn-{i}" for i in range(0, n, 2))
    assert rows["conn-0"].close_code == 1006 and rows["conn-0"].close_reason == "x" * 200
    assert rows["conn-2"].close_code is None and rows["conn-2"].close_reason == "gone"
    assert rows["conn-1"].close_code is None and rows["conn-1"].disconnected_at is None
