"""What the edge remembers of chargers' boots (their quirk profiles depend on it), written off the
handshake path: a storm's worth of boots in one statement per batch, the latest per charger."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from sy_devkit.inprocess import statements_run
from sy_edge.auth.policy import EffectivePolicy
from sy_edge.auth.store import AccessStore
from sy_edge.models import ChargerBoot
from sy_quirks import BootInfo


async def test_boots_are_upserted_in_one_statement_per_batch_latest_wins(
    engine: AsyncEngine,
) -> None:
    statements = statements_run(engine, "charger_boots")
    store = AccessStore(
        engine,
        "edge-test",
        EffectivePolicy(False, "strict", ()),
        access_cache_s=60,
        verified_cache_s=600,
    )
    await store.start()
    n = 400
    for i in range(n):
        store.boot_seen(f"CP-{i}", BootInfo("Vendor", "Model", "1.0"), "ocpp1.6")
    store.boot_seen("CP-0", BootInfo("Vendor", "Model", "2.0"), "ocpp2.0.1")  # booted again
    store.boot_seen("CP-1", BootInfo("V" * 300, "Model"), "ocpp1.6")
    await store.stop()

    assert 1 <= statements.count("INSERT") <= 2, statements  # per batch, not per charger
    async with engine.connect() as conn:
        rows = {r.charger_id: r for r in (await conn.execute(select(ChargerBoot))).all()}
    assert len(rows) == n
    assert (rows["CP-0"].firmware, rows["CP-0"].ocpp) == ("2.0", "ocpp2.0.1")
    assert rows["CP-1"].vendor == "V" * 255 and rows["CP-1"].firmware is None
    assert rows["CP-2"].firmware == "1.0"
