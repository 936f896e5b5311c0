"""One OpenTelemetry trace per charger CALL: the edge's span and the connectors' span around the
backend hop share the trace, the connectors' span is the edge span's child (W3C trace context in
the NATS headers), and both reach a real OTLP/HTTP receiver."""

from __future__ import annotations

import asyncio
import time

from ocpp.v16 import call as c16

from sy_devkit.otlp import ReceivedSpan
from sy_devkit.peers import connect_charger
from sy_devkit.pytest_plugin import RunningSuite


async def _spans_of(suite: RunningSuite, charger_id: str, count: int) -> list[ReceivedSpan]:
    assert suite.spans is not None, "the suite runs without a span collector"
    deadline = time.monotonic() + 20  # the services export in batches, every few seconds
    while True:
        spans = suite.spans.find(**{"ocpp.charger_id": charger_id})
        if len(spans) >= count or time.monotonic() > deadline:
            return spans
        await asyncio.sleep(0.2)


async def test_a_charger_call_is_one_trace_across_edge_connectors_and_backend(
    routed: RunningSuite, charger_id: str
) -> None:
    async with connect_charger(routed.charger_url(charger_id), charger_id, "ocpp1.6") as (cp, _):
        await cp.call(c16.Heartbeat())
    spans = await _spans_of(routed, charger_id, count=2)
    edge = [s for s in spans if s.service == "switchyard-edge"]
    connectors = [s for s in spans if s.service == "switchyard-connectors"]
    assert [s.name for s in edge] == ["charger Heartbeat"]
    assert [s.name for s in connectors] == ["backend Heartbeat"]
    charger_hop, backend_hop = edge[0], connectors[0]
    assert backend_hop.trace_id == charger_hop.trace_id
    assert backend_hop.parent_span_id == charger_hop.span_id
    assert backend_hop.attributes["ocpp.backend"] == "legacy"
    # The backend hop happens inside the charger's CALL.
    assert charger_hop.start_ns <= backend_hop.start_ns <= backend_hop.end_ns <= charger_hop.end_ns
