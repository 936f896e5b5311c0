"""Admin API tokens: `sy_<id>_<secret>`, stored as SHA-256 of the secret only.

The secret is 32 random bytes, so a fast hash is safe (no password to guess) and keeps every
request cheap. Records live in the `sy-api-tokens` KV bucket; each service mirrors it, so a
revocation reaches every replica within a second.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import orjson
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from sy_calls import stop_task
from sy_platform.auth.roles import Principal, Role

log = logging.getLogger(__name__)

PREFIX = "sy_"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token() -> tuple[str, str, str]:
    """A fresh token: (token id, the full token to hand out once, the digest to store)."""
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return token_id, f"{PREFIX}{token_id}_{secret}", digest(secret)


def split(token: str) -> tuple[str, str] | None:
    if not token.startswith(PREFIX):
        return None
    token_id, sep, secret = token[len(PREFIX) :].partition("_")
    return (token_id, secret) if sep and token_id and secret else None


@dataclass(frozen=True, slots=True)
class TokenRecord:
    token_id: str
    name: str
    digest: str
    roles: list[str]
    created_at: str
    expires_at: str | None = None
    revoked_at: str | None = None
    created_by: str = ""
    v: int = 1

    def to_bytes(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_bytes(cls, data: bytes) -> TokenRecord:
        return cls(**orjson.loads(data))

    def refusal(self, now: datetime) -> str | None:
        """Why this token may not be used now, or None."""
        if self.revoked_at:
            return "token revoked"
        if self.expires_at and datetime.fromisoformat(self.expires_at) <= now:
            return "token expired"
        return None


class TokenDirectory:
    """A live mirror of the `sy-api-tokens` bucket."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self._records: dict[str, TokenRecord] = {}
        self._loaded = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, timeout_s: float = 10.0) -> None:
        watcher = await self._kv.watchall()
        self._task = asyncio.create_task(self._follow(watcher), name="api-tokens")
        await asyncio.wait_for(self._loaded.wait(), timeout_s)

    async def stop(self) -> None:
        await stop_task(self._task)

    async def _follow(self, watcher: KeyValue.KeyWatcher) -> None:
        async for entry in watcher:
            if entry is None:
                self._loaded.set()
                continue
            if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
                self._records.pop(entry.key, None)
                continue
            try:
                self._records[entry.key] = TokenRecord.from_bytes(entry.value)
            except Exception:
                log.error("unreadable API token record %s ignored", entry.key)

    def verify(self, token: str) -> Principal | str:
        """The caller, or the reason the token is refused."""
        parts = split(token)
        if parts is None:
            return "not a Switchyard API token"
        record = self._records.get(parts[0])
        if record is None or not hmac.compare_digest(record.digest, digest(parts[1])):
            return "unknown token"
        refusal = record.refusal(datetime.now(UTC))
        if refusal:
            return refusal
        roles = frozenset(Role(r) for r in record.roles if r in Role.__members__.values())
        return Principal(record.name, "token", roles)
