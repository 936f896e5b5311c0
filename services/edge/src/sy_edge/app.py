"""The edge's app factory: REST/probes on SY_HTTP_PORT, chargers on SY_OCPP_PORT."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from nats.aio.msg import Msg

from sy_bus import FramePublisher, streams, subjects
from sy_edge import metrics
from sy_edge.api import chargers, credentials, policies
from sy_edge.auth.policy import EffectivePolicy
from sy_edge.auth.store import AccessStore
from sy_edge.context import EdgeContext
from sy_edge.control import CONTROL_ALL, POLICIES, Control
from sy_edge.heartbeat import Heartbeat
from sy_edge.recorder import ConnectionRecorder
from sy_edge.server import charger_endpoint
from sy_edge.settings import EdgeSettings
from sy_edge.upstream import UpstreamCalls
from sy_platform import Runtime, service_app
from sy_platform.app import ReadinessCheck
from sy_quirks import QuirkBook

log = logging.getLogger(__name__)

DESCRIPTION = """Terminates charger WebSockets (OCPP 1.6J and 2.0.1, security profiles 1-3),
authenticates chargers, normalises known firmware quirks, validates every frame, relays charger
CALLs to the bus and backend CALLs to the charger, and captures every frame to JetStream.
Chargers connect to `ws(s)://HOST:SY_OCPP_PORT/ocpp/<chargerId>`."""

POLICY_REFRESH_S = 60.0


def build_app(settings: EdgeSettings) -> FastAPI:
    quirks = QuirkBook.load(settings.quirks_dirs)  # a broken profile stops the start, loudly

    @asynccontextmanager
    async def parts(rt: Runtime, app: FastAPI) -> AsyncIterator[dict[str, ReadinessCheck]]:
        frames = FramePublisher(rt.js, settings.instance_id)
        frames.start()
        recorder = ConnectionRecorder(rt.engine)
        recorder.start()
        defaults = EffectivePolicy(settings.allow_unauthenticated, settings.validation, ())
        access = AccessStore(
            rt.engine,
            settings.instance_id,
            defaults,
            access_cache_s=settings.access_cache_s,
            verified_cache_s=settings.verified_cache_s,
        )
        await access.start()
        presence = await rt.js.key_value(streams.PRESENCE.name)
        upstream = UpstreamCalls(rt.nc, await rt.js.key_value(streams.SHARDS.name))
        await upstream.start()
        ctx = EdgeContext(settings, rt.nc, frames, presence, recorder, access, quirks, upstream)
        app.state.edge = ctx
        if settings.allow_unauthenticated:
            log.warning("SY_ALLOW_UNAUTHENTICATED is on: chargers without credentials may connect")
        control = await rt.nc.subscribe(CONTROL_ALL, cb=functools.partial(on_control, ctx))
        refresher = asyncio.create_task(refresh_policies(access))
        # Started before the charger port opens: every presence it announces is newer.
        heartbeat = Heartbeat(
            rt.nc, settings.instance_id, settings.heartbeat_interval_s, lambda: len(ctx.sessions)
        )
        heartbeat.start()
        try:
            async with charger_endpoint(ctx):
                yield {}
        finally:
            await heartbeat.stop()
            refresher.cancel()
            await asyncio.gather(refresher, return_exceptions=True)
            try:
                await control.unsubscribe()
            except Exception:
                log.debug("control unsubscribe failed", exc_info=True)
            await upstream.stop()
            await frames.stop()
            await recorder.stop()
            await access.stop()

    return service_app(
        service="edge",
        settings=settings,
        title="Switchyard edge",
        description=DESCRIPTION,
        routers=[chargers.router, credentials.router, policies.router],
        parts=parts,
    )


async def on_control(ctx: EdgeContext, msg: Msg) -> None:
    try:
        control = Control.from_bytes(msg.data)
    except Exception:
        log.warning("unreadable control message on %s dropped", msg.subject)
        return
    if msg.subject == POLICIES:
        await ctx.access.reload_policies()
        return
    if msg.subject != subjects.control(control.charger_id):
        return  # not a per-charger control message the edge knows
    session = ctx.sessions.get(control.charger_id)
    if control.kind == "credentials":
        ctx.access.forget(control.charger_id)
        if control.reason == "revoked" and session is not None:
            session.close(1008, "credentials revoked", "credentials revoked")
    elif control.kind == "takeover" and session is not None:
        if control.instance == ctx.instance or control.connection_id == session.connection_id:
            return
        # Newest wins; a tie on time goes to the larger instance id, so exactly one survives.
        if (control.ts_ns, control.instance) > (session.connected_ns, ctx.instance):
            metrics.TAKEOVERS.inc()
            session.close(1000, "replaced by a newer connection", f"takeover by {control.instance}")


async def refresh_policies(access: AccessStore) -> None:
    """Policies are pushed on change; this catches a replica that missed a message."""
    while True:
        await asyncio.sleep(POLICY_REFRESH_S)
        try:
            await access.reload_policies()
        except Exception as exc:
            log.warning("policy refresh failed: %s", exc)
