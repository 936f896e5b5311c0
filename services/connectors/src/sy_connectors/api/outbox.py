"""Store-and-forward status: what waits for which backend."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter
from pydantic import BaseModel, Field

from sy_bus import streams, subjects
from sy_platform import RuntimeDep

router = APIRouter(prefix="/outbox", tags=["store-and-forward"])


class BackendBacklog(BaseModel):
    backend: str = Field(description="Backend the stored CALLs wait for.")
    stored: int = Field(description="CALLs stored while it was down, not yet delivered.")
    chargers: int = Field(description="Chargers with at least one stored CALL for it.")


@router.get(
    "",
    response_model=list[BackendBacklog],
    summary="CALLs stored per backend while it was down (delivered in order when it is back)",
)
async def backlog(rt: RuntimeDep) -> list[BackendBacklog]:
    info = await rt.js.stream_info(streams.OUTBOX.name, subjects_filter=subjects.OUTBOX_ALL)
    stored: Counter[str] = Counter()
    chargers: Counter[str] = Counter()
    for subject, count in (info.state.subjects or {}).items():
        backend = subject.split(".")[2]
        stored[backend] += count
        chargers[backend] += 1
    return [
        BackendBacklog(backend=b, stored=stored[b], chargers=chargers[b]) for b in sorted(stored)
    ]
