"""With two edge processes, a charger on either one receives backend-initiated CALLs: the edge
holding the charger answers `sy.down.<id>`, the other one does not."""

from __future__ import annotations

from ocpp.v16 import call as c16
from ocpp.v201 import call as c201

from sy_devkit.peers import CsmsPeer, connect_charger
from sy_devkit.pytest_plugin import RunningSuite
from sy_devkit.suite import ServiceProcess


async def test_backend_calls_reach_chargers_on_either_edge(
    routed: RunningSuite, second_edge: ServiceProcess, csms: CsmsPeer, charger_id: str
) -> None:
    first_url = routed.charger_url(charger_id + "-1")
    second_url = routed.charger_url(charger_id + "-2", port=second_edge.ocpp_port)
    async with (
        connect_charger(first_url, charger_id + "-1", "ocpp1.6") as (on_first, _),
        connect_charger(second_url, charger_id + "-2", "ocpp2.0.1") as (on_second, _),
    ):
        await on_first.call(c16.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        await on_second.call(
            c201.BootNotification(
                charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
            )
        )
        first_backend = await csms.wait_for(charger_id + "-1")
        second_backend = await csms.wait_for(charger_id + "-2")
        for _ in range(3):
            one = await first_backend.call(c16.RemoteStartTransaction(id_tag="A"))
            two = await second_backend.call(
                c201.RequestStartTransaction(
                    id_token={"idToken": "B", "type": "Central"}, remote_start_id=7
                )
            )
            assert one.status == two.status == "Accepted"
        assert len(on_first.commands) == 3
        assert len(on_second.commands) == 3
        assert on_second.commands[0][0] == "RequestStartTransaction"


async def test_reconnect_to_the_other_edge_moves_backend_calls(
    routed: RunningSuite, second_edge: ServiceProcess, csms: CsmsPeer, charger_id: str
) -> None:
    """A charger that drops and comes back on another replica is reachable there."""
    first = routed.charger_url(charger_id)
    second = routed.charger_url(charger_id, port=second_edge.ocpp_port)
    async with connect_charger(first, charger_id, "ocpp1.6") as (charger, _):
        await charger.call(c16.Heartbeat())
    async with connect_charger(second, charger_id, "ocpp1.6") as (charger, _):
        await charger.call(c16.Heartbeat())  # answered: its upstream is open
        backend = await csms.wait_for(charger_id)  # the current upstream session
        answer = await backend.call(c16.RemoteStartTransaction(id_tag="C"))
        assert answer.status == "Accepted"
        assert charger.commands == [("RemoteStartTransaction", {"id_tag": "C"})]
