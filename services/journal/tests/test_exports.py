"""Exports stream NDJSON, CSV and Parquet that parse back to the same rows."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pyarrow.parquet as pq
import pytest

from sy_events.samples import Traffic, session_16

from .test_events_sessions import publish, wait_for

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from sy_journal.settings import JournalSettings

    from .conftest import FrameBus, Journal

    RunJournal = Callable[[JournalSettings], AbstractAsyncContextManager[Journal]]
    SettingsFor = Callable[..., JournalSettings]

T_EXPORT = 1_930_176_000_000_000_000  # 2031-03-02T00:00:00Z
DAY_NS = 86_400 * 10**9
# One day per kind: every test's consumer replays the whole shared stream into its database.
DAYS = {"sessions": 10, "status": 12, "frames": 14, "events": 16}


@pytest.mark.parametrize("kind", ["sessions", "status", "frames", "events"])
async def test_every_kind_in_every_format_parses_back_to_the_same_rows(
    kind: str,
    bus: FrameBus,
    journal_db: str,
    settings_for: SettingsFor,
    run_journal: RunJournal,
    charger: Callable[[str], str],
) -> None:
    start = T_EXPORT + DAYS[kind] * DAY_NS
    since = datetime.fromtimestamp(start // 10**9, UTC)
    window = {"since": since.isoformat(), "until": (since + timedelta(days=1)).isoformat()}
    cps = [charger(f"CP-exp{i}") for i in range(3)]
    for i, cp in enumerate(cps):
        t = Traffic(cp, now=start + i * 10**9)
        session_16(t)
        await publish(bus, t)
    # A frame outside the window is not exported.
    late = Traffic(charger("CP-late"), now=start + DAY_NS)
    session_16(late)
    await publish(bus, late)

    async with run_journal(settings_for(journal_db)) as journal:

        async def ready() -> bool:
            params = {"status": "ended", **window}
            resp = await journal.client.get("/sessions", params=params)
            return len(resp.json()) == 3

        await wait_for(ready, "sessions stored")
        bodies = {}
        for fmt in ("ndjson", "csv", "parquet"):
            resp = await journal.client.get(f"/exports/{kind}", params={**window, "format": fmt})
            assert resp.status_code == 200, resp.text
            bodies[fmt] = (resp.headers["content-type"], resp.content)
        bad = await journal.client.get(f"/exports/{kind}", params={"format": "xml"})

    ndjson = [json.loads(line) for line in bodies["ndjson"][1].decode().splitlines()]
    table = list(csv.DictReader(io.StringIO(bodies["csv"][1].decode())))
    parquet = pq.read_table(io.BytesIO(bodies["parquet"][1])).to_pylist()
    assert bodies["ndjson"][0] == "application/x-ndjson"
    assert bodies["parquet"][0] == "application/vnd.apache.parquet"
    assert len(ndjson) == len(table) == len(parquet) > 0
    assert {r["charger_id"] for r in ndjson} == set(cps)
    key = {"sessions": "gateway_transaction_id", "status": "event_id", "frames": "seq"}.get(
        kind, "event_id"
    )
    assert [str(r[key]) for r in ndjson] == [r[key] for r in table]
    assert [r[key] for r in ndjson] == [r[key] for r in parquet]
    if kind == "sessions":
        assert [r["energy_wh"] for r in ndjson] == [3500.0] * 3
        assert [float(r["energy_wh"]) for r in table] == [3500.0] * 3
        assert [r["backends"] for r in parquet] == ["legacy;new"] * 3
    if kind == "frames":
        assert [r["seq"] for r in ndjson] == sorted(r["seq"] for r in ndjson)
        assert [r["raw"] for r in ndjson] == [r["raw"] for r in parquet]
    assert bad.status_code == 422
