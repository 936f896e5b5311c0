"""Charger credentials, policies and boots for the handshake: Postgres is the source, each
replica caches what it read, and a control message tells every replica to forget a charger.

Reconnect storms are the design load. Lookups of chargers arriving together are batched into
one query (`WHERE charger_id = ANY(...)`); a password is verified with scrypt on a thread pool
(the event loop keeps serving connected chargers); a verified (charger, sha256(secret)) pair is
remembered for `verified_cache_s`, keyed by the credential's version, so a charger that
reconnects costs no KDF, and a rotate or revoke changes the version and clears the entry on
every replica.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from sy_edge.auth import passwords
from sy_edge.auth.gate import StoredCredential
from sy_edge.auth.policy import EffectivePolicy, Policies, PolicyRule
from sy_edge.models import AuthAttempt, ChargerBoot, Credential, Policy
from sy_platform.writer import BatchWriter
from sy_quirks import BootInfo

log = logging.getLogger(__name__)
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class ChargerRecord:
    credential: StoredCredential | None
    boot: BootInfo | None


@dataclass(frozen=True, slots=True)
class Refusal:
    charger_id: str
    remote: str
    instance: str
    reason: str
    detail: str
    at: datetime


@dataclass(frozen=True, slots=True)
class BootSeen:
    charger_id: str
    boot: BootInfo
    ocpp: str
    at: datetime


class Batcher(Generic[K, V]):
    """Coalesces lookups arriving within `window_s` into one `load(keys)` call."""

    def __init__(
        self,
        load: Callable[[list[K]], Awaitable[dict[K, V]]],
        window_s: float = 0.003,
        max_batch: int = 500,
    ) -> None:
        self._load = load
        self._window_s = window_s
        self._max_batch = max_batch
        self._waiting: dict[K, asyncio.Future[V | None]] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def get(self, key: K) -> V | None:
        future = self._waiting.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._waiting[key] = future
        if len(self._waiting) >= self._max_batch:
            self._flush_now()
        elif self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_later())
        return await asyncio.shield(future)

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._window_s)
        self._flusher = None
        await self._run(self._take())

    def _flush_now(self) -> None:
        batch = self._take()
        task = asyncio.create_task(self._run(batch))
        task.add_done_callback(lambda t: None)

    def _take(self) -> dict[K, asyncio.Future[V | None]]:
        batch, self._waiting = self._waiting, {}
        return batch

    async def _run(self, batch: dict[K, asyncio.Future[V | None]]) -> None:
        if not batch:
            return
        try:
            found = await self._load(list(batch))
        except Exception as exc:
            for future in batch.values():
                if not future.done():
                    future.set_exception(exc)
            return
        for key, future in batch.items():
            if not future.done():
                future.set_result(found.get(key))


class AccessStore:
    def __init__(
        self,
        engine: AsyncEngine,
        instance: str,
        defaults: EffectivePolicy,
        *,
        access_cache_s: float,
        verified_cache_s: float,
    ) -> None:
        self._engine = engine
        self._instance = instance
        self._access_cache_s = access_cache_s
        self._verified_cache_s = verified_cache_s
        self.policies = Policies([], defaults)
        self._records: dict[str, tuple[float, ChargerRecord]] = {}
        self._verified: dict[tuple[str, int, bytes], float] = {}
        self._failed: dict[tuple[str, int, bytes], float] = {}
        self._batcher: Batcher[str, ChargerRecord] = Batcher(self._load)
        self._kdf = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kdf")
        self._refusals: BatchWriter[Refusal] = BatchWriter("auth-attempts", self._write_refusals)
        self._boots: BatchWriter[BootSeen] = BatchWriter("charger-boots", self._write_boots)

    async def start(self) -> None:
        await self.reload_policies()
        self._refusals.start()
        self._boots.start()

    async def stop(self) -> None:
        await self._refusals.stop()
        await self._boots.stop()
        self._kdf.shutdown(wait=False, cancel_futures=True)

    # -- reads -----------------------------------------------------------------------------------

    async def record(self, charger_id: str) -> ChargerRecord:
        cached = self._records.get(charger_id)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        record = await self._batcher.get(charger_id) or ChargerRecord(None, None)
        self._records[charger_id] = (now + self._access_cache_s, record)
        return record

    def policy(self, charger_id: str) -> EffectivePolicy:
        return self.policies.for_charger(charger_id)

    async def reload_policies(self) -> None:
        async with AsyncSession(self._engine) as db:
            rows = (await db.execute(select(Policy))).scalars().all()
        self.policies = Policies([policy_rule(row) for row in rows], self.policies.defaults)

    async def verify_password(
        self, charger_id: str, credential: StoredCredential, password: str
    ) -> bool:
        """Whether `password` is the charger's; the KDF runs at most once per TTL and secret."""
        assert credential.password_hash is not None
        key = (charger_id, credential.version, passwords.secret_digest(password))
        now = time.monotonic()
        if self._verified.get(key, 0.0) > now:
            return True
        if self._failed.get(key, 0.0) > now:  # the same wrong secret again: no second KDF
            return False
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(
            self._kdf, passwords.verify, password, credential.password_hash
        )
        if ok:
            self._verified[key] = now + self._verified_cache_s
        else:
            self._failed[key] = now + 30.0
        if len(self._verified) + len(self._failed) > 200_000:
            self._prune(now)
        return ok

    # -- invalidation ----------------------------------------------------------------------------

    def forget(self, charger_id: str) -> None:
        """Drop everything cached about one charger (its credential changed somewhere)."""
        self._records.pop(charger_id, None)
        for cache in (self._verified, self._failed):
            for key in [k for k in cache if k[0] == charger_id]:
                del cache[key]

    # -- writes off the handshake path -------------------------------------------------------------

    def refused(self, charger_id: str, remote: str, reason: str, detail: str) -> None:
        self._refusals.put(
            Refusal(charger_id, remote, self._instance, reason, detail[:200], datetime.now(UTC))
        )

    def boot_seen(self, charger_id: str, boot: BootInfo, ocpp: str) -> None:
        cached = self._records.get(charger_id)
        if cached is not None:
            self._records[charger_id] = (cached[0], ChargerRecord(cached[1].credential, boot))
        self._boots.put(BootSeen(charger_id, boot, ocpp, datetime.now(UTC)))

    # -- plumbing ----------------------------------------------------------------------------------

    async def _load(self, charger_ids: list[str]) -> dict[str, ChargerRecord]:
        async with AsyncSession(self._engine) as db:
            creds = (
                await db.execute(select(Credential).where(Credential.charger_id.in_(charger_ids)))
            ).scalars()
            boots = (
                await db.execute(select(ChargerBoot).where(ChargerBoot.charger_id.in_(charger_ids)))
            ).scalars()
            by_id = {c.charger_id: stored_credential(c) for c in creds}
            boot_by_id = {b.charger_id: BootInfo(b.vendor, b.model, b.firmware) for b in boots}
        return {cid: ChargerRecord(by_id.get(cid), boot_by_id.get(cid)) for cid in charger_ids}

    async def _write_refusals(self, batch: list[Refusal]) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                pg_insert(AuthAttempt),
                [
                    {
                        "charger_id": r.charger_id[:48],
                        "at": r.at,
                        "remote": r.remote[:200],
                        "instance": r.instance[:200],
                        "reason": r.reason,
                        "detail": r.detail,
                    }
                    for r in batch
                ],
            )

    async def _write_boots(self, batch: list[BootSeen]) -> None:
        """The latest boot of every charger in the batch, in one statement: a reconnect storm
        brings thousands of boots together."""
        latest = {b.charger_id: b for b in batch}
        rows = [
            {
                "charger_id": seen.charger_id,
                "vendor": seen.boot.vendor[:255],
                "model": seen.boot.model[:255],
                "firmware": (seen.boot.firmware or None) and seen.boot.firmware[:255],
                "ocpp": seen.ocpp,
                "updated_at": seen.at,
            }
            for seen in latest.values()
        ]
        statement = pg_insert(ChargerBoot).values(rows)
        updated = {
            column: statement.excluded[column]
            for column in ("vendor", "model", "firmware", "ocpp", "updated_at")
        }
        async with self._engine.begin() as conn:
            await conn.execute(
                statement.on_conflict_do_update(index_elements=["charger_id"], set_=updated)
            )

    def _prune(self, now: float) -> None:
        for cache in (self._verified, self._failed):
            for key in [k for k, until in cache.items() if until <= now]:
                del cache[key]


def stored_credential(row: Credential) -> StoredCredential:
    return StoredCredential(
        row.security_profile, row.password_hash, row.version, row.revoked_at is not None
    )


def policy_rule(row: Policy) -> PolicyRule:
    quirks = None
    if row.quirk_profiles is not None:
        quirks = tuple(q for q in row.quirk_profiles.split(",") if q)
    return PolicyRule(row.selector, row.allow_unauthenticated, row.validation, quirks)
