"""Which connectors replica serves which chargers: shard leases and live replicas."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from sy_bus import subjects
from sy_connectors.relay import Relay

router = APIRouter(prefix="/shards", tags=["sharding"])


class ReplicaShare(BaseModel):
    instance: str = Field(description="A live connectors replica (its SY_INSTANCE_ID).")
    shards: int = Field(description="Charger shards it leases right now.")


class ShardOwnership(BaseModel):
    instance: str = Field(description="The replica that answered this request.")
    shards_total: int = Field(description="Fixed number of charger shards (part of the bus).")
    serving: list[int] = Field(description="Shards this replica serves (takes CALLs for).")
    handing_over: list[int] = Field(
        description="Shards this replica is handing to another: CALLs in flight finish first."
    )
    target: int = Field(description="How many shards this replica aims at: total / live replicas.")
    replicas: list[ReplicaShare] = Field(description="Every live replica and its share.")
    unowned: list[int] = Field(
        description="Shards no replica serves right now (briefly during a hand-over or after a "
        "replica died; charger CALLs wait for a new owner meanwhile)."
    )
    chargers: int = Field(description="Chargers with upstreams on this replica.")
    owners: list[str] = Field(
        description='The replica serving each shard, by shard number ("" for none).'
    )


@router.get(
    "",
    response_model=ShardOwnership,
    summary="Charger shards: who serves what, seen from this replica",
)
async def ownership(request: Request) -> ShardOwnership:
    relay: Relay = request.app.state.relay
    keeper = relay.shards
    owners = {shard: keeper.map.owner(shard) for shard in range(subjects.SHARDS)}
    counts = Counter(owner for owner in owners.values() if owner)
    live = sorted(set(keeper.map.live_members()) | set(counts))
    return ShardOwnership(
        instance=keeper.instance,
        shards_total=subjects.SHARDS,
        serving=keeper.serving,
        handing_over=sorted(keeper.leaving),
        target=keeper.target(),
        replicas=[ReplicaShare(instance=i, shards=counts.get(i, 0)) for i in live],
        unowned=sorted(shard for shard, owner in owners.items() if not owner),
        chargers=len(relay.links),
        owners=[owners[shard] for shard in range(subjects.SHARDS)],
    )
