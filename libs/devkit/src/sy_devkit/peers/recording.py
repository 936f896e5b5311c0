"""A WebSocket wrapper that keeps every text frame sent and received, for exact comparisons."""

from __future__ import annotations

from typing import Any


class RecordingConnection:
    """What the `ocpp` library needs from a connection (recv/send), plus a record of frames."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.sent: list[str] = []
        self.received: list[str] = []

    async def recv(self) -> str:
        frame = await self.ws.recv()
        text = frame if isinstance(frame, str) else frame.decode()
        self.received.append(text)
        return text

    async def send(self, frame: str) -> None:
        self.sent.append(frame)
        await self.ws.send(frame)

    async def close(self) -> None:
        await self.ws.close()

    @property
    def subprotocol(self) -> str | None:
        value: str | None = self.ws.subprotocol
        return value
