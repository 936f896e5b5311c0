"""The audit trail: every mutating admin API call on every service, who, when, what and why.

Records are published to the SY_AUDIT JetStream stream (`sy.audit.<service>`, kept 400 days), so
the trail survives the service and downstream systems can subscribe to it. A handler that knows
the resource and its before/after state says so with `note()`; every other mutating call is still
recorded from its method, path and status, refused ones (401/403) included.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi import Request
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from sy_bus import streams, subjects

log = logging.getLogger(__name__)

REASON_HEADER = "X-Sy-Reason"
_SECRET_KEY = re.compile(r"password|secret|token|authorization|private[_-]?key", re.IGNORECASE)


def redact(value: Any) -> Any:
    """The same structure with every secret-looking field's value replaced."""
    if isinstance(value, dict):
        return {k: "***" if _SECRET_KEY.search(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


@dataclass
class AuditNote:
    resource: str
    action: str = ""
    before: Any = None
    after: Any = None
    reason: str = ""


def note(request: Request, resource: str, *, action: str = "", before: Any = None,
         after: Any = None, reason: str = "") -> None:  # fmt: skip
    """Describe what this call changed; the audit middleware records it with the caller."""
    request.state.audit = AuditNote(resource, action, before, after, reason)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    ts: str
    service: str
    actor: str
    actor_kind: str
    method: str
    path: str
    status: int
    resource: str = ""
    action: str = ""
    reason: str = ""
    before: Any = None
    after: Any = None
    v: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return orjson.dumps(asdict(self), default=str)


def record_for(service: str, request: Request, status: int) -> AuditRecord:
    principal = getattr(request.state, "principal", None)
    noted: AuditNote | None = getattr(request.state, "audit", None)
    reason = (noted.reason if noted else "") or request.headers.get(REASON_HEADER, "")
    return AuditRecord(
        ts=datetime.now(UTC).isoformat(),
        service=service,
        actor=principal.name if principal else "anonymous",
        actor_kind=principal.kind if principal else "none",
        method=request.method,
        path=request.url.path,
        status=status,
        resource=noted.resource if noted else request.url.path,
        action=noted.action if noted else request.method.lower(),
        reason=reason[:2000],
        before=redact(noted.before) if noted else None,
        after=redact(noted.after) if noted else None,
    )


async def publish(js: JetStreamContext, record: AuditRecord) -> None:
    try:
        await js.publish(subjects.audit(record.service), record.to_bytes(), timeout=5)
    except Exception as exc:  # the call already happened; say loudly that its trace is missing
        log.error("audit record not stored (%s %s by %s): %r", record.method, record.path,
                  record.actor, exc)  # fmt: skip


async def read(
    js: JetStreamContext, service: str, since: datetime | None, limit: int
) -> list[dict[str, Any]]:
    """Audit records of `service` from `since` (default: the last 7 days), oldest first."""
    start = since or datetime.now(UTC) - timedelta(days=7)
    out: list[dict[str, Any]] = []
    sub = await js.subscribe(
        subjects.audit(service),
        stream=streams.AUDIT.name,
        ordered_consumer=True,
        deliver_policy=DeliverPolicy.BY_START_TIME,
        config=_start_at(start),
    )
    try:
        while len(out) < limit:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except Exception:  # nothing more within the wait: we have read to the end
                break
            out.append(orjson.loads(msg.data))
            if msg.metadata.num_pending == 0:
                break
    finally:
        await sub.unsubscribe()
    return out


def _start_at(start: datetime) -> ConsumerConfig:
    return ConsumerConfig(opt_start_time=start.astimezone(UTC))


__all__ = ["AuditNote", "AuditRecord", "note", "publish", "read", "record_for", "redact"]
