"""FastAPI dependencies shared by the routing API's routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sy_routing.changes import RoutingTable


def get_routing_table(request: Request) -> RoutingTable:
    routing_table: RoutingTable = request.app.state.routing_table
    return routing_table.bound(request)


RoutingTableDep = Annotated[RoutingTable, Depends(get_routing_table)]

REASON_DESCRIPTION = "Why you make this change; stored with the new routing-table version."
