"""The estate map: the fleet by vendor, model, firmware, site, criticality and current backend,
and the chargers that behave inconsistently (quirk rules the edge had to apply, CALLERRORs and
reconnects in the journal). `summarise` is pure; `gather` asks routing, the journal and the edge."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sy_migration.clients import Services, Unavailable

DIMENSIONS = ("vendor", "model", "firmware", "ocpp", "site", "criticality", "backend")
MAX_PER_CHARGER = 500  # per-charger journal and edge look-ups; beyond, segments only
CONCURRENCY = 8


def _dimension(charger: Mapping[str, Any], key: str) -> str:
    if key == "backend":
        return str((charger.get("route") or {}).get("primary") or "(none)")
    return str(charger.get(key) or "(unknown)")


def summarise(
    fleet: Sequence[Mapping[str, Any]],
    per_charger: Mapping[str, Mapping[str, Any]],
    quirks: Mapping[str, Mapping[str, int]] | None,
    *,
    max_call_error_ratio: float = 0.02,
    max_reconnects_per_day: float = 24.0,
) -> dict[str, Any]:
    counts = {
        key: dict(Counter(_dimension(c, key) for c in fleet).most_common()) for key in DIMENSIONS
    }
    segments: Counter[tuple[str, str, str, str]] = Counter(
        (
            _dimension(c, "vendor"),
            _dimension(c, "model"),
            _dimension(c, "firmware"),
            _dimension(c, "backend"),
        )
        for c in fleet
    )
    inconsistent = []
    for charger in fleet:
        cid = charger["charger_id"]
        reasons = []
        figures = per_charger.get(cid) or {}
        rate = figures.get("call_error_ratio")
        if rate is not None and rate > max_call_error_ratio:
            reasons.append(
                f"CALLERROR rate {rate:.1%} ({figures.get('call_errors')} of "
                f"{figures.get('answers')} answers)"
            )
        reconnects = figures.get("reconnects_per_day")
        if reconnects is not None and reconnects > max_reconnects_per_day:
            reasons.append(f"{reconnects:.0f} reconnects a day")
        hits = (quirks or {}).get(cid) or {}
        if hits:
            rules = ", ".join(f"{rule} x{n}" for rule, n in sorted(hits.items()))
            reasons.append(f"quirk rules applied: {rules}")
        if reasons:
            inconsistent.append(
                {
                    "charger_id": cid,
                    "vendor": charger.get("vendor"),
                    "model": charger.get("model"),
                    "firmware": charger.get("firmware"),
                    "backend": _dimension(charger, "backend"),
                    "reasons": reasons,
                }
            )
    return {
        "chargers": len(fleet),
        "counts": counts,
        "segments": [
            {"vendor": v, "model": m, "firmware": f, "backend": b, "chargers": n}
            for (v, m, f, b), n in segments.most_common()
        ],
        "inconsistent": inconsistent,
    }


async def _bounded(work: list[Any]) -> list[Any]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(item: Any) -> Any:
        async with gate:
            return await item

    return await asyncio.gather(*(one(w) for w in work))


async def _figures(
    services: Services, charger_id: str, since: datetime, now: datetime
) -> dict[str, Any]:
    health = await services.health([charger_id], since, now)
    errors = health.get("callerror") or {}
    return {
        "call_error_ratio": errors.get("rate"),
        "call_errors": errors.get("ok"),
        "answers": errors.get("total"),
        "reconnects_per_day": health.get("reconnects_per_charger_per_day"),
    }


async def gather(services: Services, window: timedelta) -> dict[str, Any]:
    now = datetime.now(UTC)
    since = now - window
    fleet = await services.fleet()
    looked_at = fleet[:MAX_PER_CHARGER]
    notes = []
    try:
        figures = await _bounded(
            [_figures(services, c["charger_id"], since, now) for c in looked_at]
        )
        per_charger = {c["charger_id"]: f for c, f in zip(looked_at, figures, strict=True)}
    except Unavailable as exc:
        per_charger, notes = {}, [f"journal figures left out: {exc}"]
    quirks: dict[str, dict[str, int]] | None = None
    try:
        found = await _bounded([services.quirks(c["charger_id"]) for c in looked_at])
        quirks = {c["charger_id"]: q for c, q in zip(looked_at, found, strict=True) if q}
    except Unavailable as exc:
        notes.append(f"quirk counts left out: {exc}")
    if len(fleet) > MAX_PER_CHARGER:
        notes.append(f"per-charger behaviour looked at for the first {MAX_PER_CHARGER} chargers")
    notes.append("quirk counts are those of the edge replica at SY_EDGE_URL since it started")
    out = summarise(fleet, per_charger, quirks)
    out.update({"since": since.isoformat(), "until": now.isoformat(), "notes": notes})
    return out
