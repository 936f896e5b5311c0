"""Who may publish and subscribe what on the bus: one NATS user per service, defined once.

Derived from the subjects, streams and buckets in `sy_bus.subjects` / `sy_bus.streams`, and used
everywhere a NATS server is configured: the embedded dev and test server (`sy_devkit`) renders
`server_users()` into its `authorization` block, and an operator can print the same block with
`python -m sy_bus.permissions` for their own server.

The rules in the operator's words:

* only the edge speaks for chargers: it alone publishes `sy.up.>`, presence and the frames it
  saw on the charger side, and answers `sy.down.*`;
* only the connectors answer `sy.up.>` (nobody else may subscribe to it) and speak for backends;
* only routing writes the routing table (`sy-routes`) and the API tokens (`sy-api-tokens`);
* only the journal reads the captured frames (`SY_FRAMES`, which carry OCPP payloads), and
  only the connectors their store-and-forward outbox (`SY_OUTBOX`);
* each service writes only its own audit trail `sy.audit.<service>`, and nobody but the admin
  user may create, update, delete or purge a stream or bucket or delete one of its messages
  (the admin provisions them: `python -m sy_bus.provision`);
* each service receives replies on its own inbox prefix `_INBOX.<service>.>`, so it cannot read
  the replies meant for another.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sy_bus import streams, subjects
from sy_bus.subjects import FrameDirection

P = subjects.PREFIX
ADMIN_USER = "sy-admin"
SERVICES = ("edge", "routing", "connectors", "journal", "migration")

# JetStream: its API (stream/consumer management, KV reads), acks of consumed messages, and flow
# control answers of ordered consumers (KV watchers).
JETSTREAM_API = "$JS.API.>"
JETSTREAM_ACK = "$JS.ACK.>"
JETSTREAM_FLOW_CONTROL = "$JS.FC.>"

# Writers of each KV bucket, by bucket name. A bucket missing here can be written by nobody
# but the admin user: declare its writer when you add one.
KV_WRITERS: Mapping[str, tuple[str, ...]] = {
    streams.ROUTES.name: ("routing",),
    streams.API_TOKENS.name: ("routing",),  # `/tokens` is served by routing
    # The edge; the connectors delete the entries of an edge replica that crashed.
    streams.PRESENCE.name: ("edge", "connectors"),
    streams.STATE.name: ("connectors",),  # cutover replay state (next)
    "sy-transactions": ("connectors",),  # open transactions per charger, owning backend
    streams.SHARDS.name: ("connectors",),  # shard leases; the edge only reads them
}

# Readers of a stream beyond its KV or audit use: any other user is denied its consumer and
# direct-get API.
STREAM_READERS: Mapping[str, tuple[str, ...]] = {
    streams.FRAMES.name: ("journal",),
    "SY_OUTBOX": ("connectors",),  # charger CALLs stored for a backend that is down
}


def inbox_prefix(service: str) -> str:
    """Where `service` receives replies (request/reply, JetStream API answers, deliveries)."""
    return f"_INBOX.{service}"


def kv_subjects(bucket: str) -> str:
    """A KV bucket is the stream KV_<bucket>; a put or delete is a publish on these subjects."""
    return f"$KV.{bucket}.>"


def _frames(*directions: FrameDirection) -> tuple[str, ...]:
    return tuple(f"{P}.frames.*.{d.value}" for d in directions)


def _stream_read_api(stream: str) -> tuple[str, ...]:
    api = "$JS.API"
    return (
        f"{api}.CONSUMER.CREATE.{stream}",
        f"{api}.CONSUMER.CREATE.{stream}.>",
        f"{api}.CONSUMER.DURABLE.CREATE.{stream}.>",
        f"{api}.CONSUMER.MSG.NEXT.{stream}.>",
        f"{api}.DIRECT.GET.{stream}",
        f"{api}.DIRECT.GET.{stream}.>",
        f"{api}.STREAM.MSG.GET.{stream}",
    )


# Nobody but the admin user destroys what is stored: streams, their messages, the audit trail.
DESTRUCTIVE_API = (
    "$JS.API.STREAM.DELETE.>",
    "$JS.API.STREAM.PURGE.>",
    "$JS.API.STREAM.MSG.DELETE.>",
)

# Nobody but the admin user creates or changes streams and buckets (a changed retention would
# destroy too): `python -m sy_bus.provision` does, as the admin; services only look them up.
STREAM_MANAGEMENT_API = (
    "$JS.API.STREAM.CREATE.>",
    "$JS.API.STREAM.UPDATE.>",
    "$JS.API.STREAM.RESTORE.>",
)


@dataclass(frozen=True, slots=True)
class Permissions:
    """One NATS user's rights (nats-server `permissions` block)."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    publish_deny: tuple[str, ...] = ()
    subscribe_deny: tuple[str, ...] = ()
    # May answer requests it received (on whatever reply subject they carry).
    allow_responses: bool = False

    def to_server(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "publish": {"allow": list(self.publish)},
            "subscribe": {"allow": list(self.subscribe)},
        }
        if self.publish_deny:
            doc["publish"]["deny"] = list(self.publish_deny)
        if self.subscribe_deny:
            doc["subscribe"]["deny"] = list(self.subscribe_deny)
        if self.allow_responses:
            doc["allow_responses"] = True
        return doc


@dataclass(frozen=True, slots=True)
class _Own:
    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    answers_requests: bool = False


_OWN: Mapping[str, _Own] = {
    "edge": _Own(
        publish=(
            f"{P}.up.>",
            f"{P}.presence.>",
            f"{P}.edges.alive.*",  # its heartbeat
            f"{P}.ctl.>",
            *_frames(FrameDirection.FROM_CHARGER, FrameDirection.TO_CHARGER),
            f"{P}.events.charger_connected.*",  # its chargers' connection events
            f"{P}.events.charger_disconnected.*",
        ),
        subscribe=(f"{P}.down.>", f"{P}.ctl.>"),
        answers_requests=True,  # sy.down.<cp>
    ),
    "connectors": _Own(
        publish=(
            f"{P}.down.>",
            subjects.EVENTS_ALL,  # shadow-traffic divergence events
            f"{P}.outbox.>",  # store-and-forward of CALLs for a backend that is down
            *_frames(FrameDirection.TO_BACKEND, FrameDirection.FROM_BACKEND),
        ),
        subscribe=(subjects.UP_ALL, subjects.PRESENCE_ALL, subjects.EDGES_ALIVE_ALL),
        answers_requests=True,  # sy.up.<cp>
    ),
    "routing": _Own(),
    "journal": _Own(publish=(subjects.EVENTS_ALL,)),  # canonical events derived from frames
    "migration": _Own(publish=(f"{P}.events.wave_transition.>",)),  # a wave moved on
}


def for_service(service: str) -> Permissions:
    """The NATS permissions of `service`'s user."""
    own = _OWN[service]
    buckets = tuple(kv_subjects(b) for b, writers in KV_WRITERS.items() if service in writers)
    denied_reads = tuple(
        subject
        for stream, readers in STREAM_READERS.items()
        if service not in readers
        for subject in _stream_read_api(stream)
    )
    return Permissions(
        publish=(
            *own.publish,
            *buckets,
            subjects.audit(service),
            JETSTREAM_API,
            JETSTREAM_ACK,
            JETSTREAM_FLOW_CONTROL,
        ),
        subscribe=(*own.subscribe, f"{inbox_prefix(service)}.>"),
        publish_deny=(*DESTRUCTIVE_API, *STREAM_MANAGEMENT_API, *denied_reads),
        allow_responses=own.answers_requests,
    )


def user_name(service: str) -> str:
    return f"sy-{service}"


def server_users(passwords: Mapping[str, str]) -> list[dict[str, Any]]:
    """nats-server `authorization.users` entries: one per service in `passwords`, with its
    permissions, and the unrestricted admin user under the key `ADMIN_USER` (for operators'
    tools, the CLI's bus commands and tests)."""
    users: list[dict[str, Any]] = []
    for name, password in passwords.items():
        if name == ADMIN_USER:
            users.append({"user": ADMIN_USER, "password": password})
        else:
            users.append(
                {
                    "user": user_name(name),
                    "password": password,
                    "permissions": for_service(name).to_server(),
                }
            )
    return users


def server_config(passwords: Mapping[str, str]) -> str:
    """The `authorization { ... }` block of a nats-server configuration (JSON is valid there)."""
    return "authorization {\n  users = " + json.dumps(server_users(passwords), indent=2) + "\n}\n"


if __name__ == "__main__":  # print every service's permissions, for a server we do not run
    print(json.dumps({user_name(s): for_service(s).to_server() for s in SERVICES}, indent=2))
    sys.exit(0)
