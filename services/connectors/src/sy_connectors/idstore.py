"""One charger's id map (`idmap`), kept in NATS KV so a restart, or another replica taking the
charger over, keeps it: bucket `sy-transactions`, key `ids.<charger token>` (a token never holds
a `.`, so it never meets a charger's open-transactions key `<token>`).

A backend CALL that adds to the map is sent to the charger only once the map is stored: whatever
the charger reports later, the gateway can still tell whose id it was.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from sy_bus import subjects
from sy_codec import Call, OcppVersion
from sy_connectors import idfields
from sy_connectors.idmap import IdMap

log = logging.getLogger(__name__)


def ids_key(charger_id: str) -> str:
    return f"ids.{subjects.charger_token(charger_id)}"


class IdStore:
    def __init__(self, charger_id: str, version: OcppVersion, kv: KeyValue) -> None:
        self.charger_id = charger_id
        self.version = version
        self.map = IdMap()
        self._kv = kv
        self._key = ids_key(charger_id)
        self._loaded = asyncio.Event()
        self._log = {"charger_id": charger_id}

    async def load(self) -> None:
        """Never raises: without its stored map the charger's ids pass through unchanged."""
        try:
            entry = await self._kv.get(self._key)
            value: Any = entry.value
            if value:
                self.map = IdMap.from_bytes(bytes(value))
        except KeyNotFoundError:  # nothing mapped for this charger yet
            pass
        except Exception as exc:
            log.warning("id map not loaded: %r", exc, extra=self._log)
        finally:
            self._loaded.set()

    async def ready(self) -> None:
        await self._loaded.wait()

    async def save(self) -> None:
        """Store the map; raises when NATS did not take it."""
        await self._kv.put(self._key, self.map.to_bytes())

    # -- backend CALL -> charger ----------------------------------------------------------------

    async def to_charger(self, backend: str, call: Call) -> dict[str, Any]:
        """The payload with charger-facing ids, stored first when the map changed."""
        await self.ready()
        payload, changed = idfields.to_charger(call, self.version, backend, self.map)
        if changed:
            await self.save()
        return payload

    async def answered(self, call: Call, result: dict[str, Any] | None) -> None:
        """The charger answered `call` (charger-facing ids): forget what it cancelled."""
        if idfields.ended(call, result, self.map):
            try:
                await self.save()
            except Exception as exc:  # kept until the next save; it only holds a number
                log.warning("id map not saved: %r", exc, extra=self._log)

    # -- charger CALL -> backends ---------------------------------------------------------------

    def asker(self, call: Call) -> str | None:
        """The backend whose request this charger CALL reports on, if the gateway mapped it."""
        return idfields.asker(call, self.version, self.map)

    def payload_for(self, call: Call, payload: dict[str, Any], backend: str) -> dict[str, Any]:
        return idfields.for_backend(call, payload, self.version, backend, self.map)
