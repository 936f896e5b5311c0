"""Drivers for the journal's component tests: a real publisher on SY_FRAMES and the app's REST API.

Every test shares one nats-server and so one SY_FRAMES stream; each gets its own database, its own
durable consumer name and its own charger ids, so tests never see each other's rows.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import nats
import pytest
from nats.js import JetStreamContext
from prometheus_client.parser import text_string_to_metric_families

from sy_bus import FrameDirection, FrameRecord, Header, streams, subjects
from sy_devkit.embedded_nats import EmbeddedNats
from sy_devkit.inprocess import app_client, migrate
from sy_journal.app import build_app
from sy_journal.settings import JournalSettings

WAIT_S = 20.0
POLL_S = 0.05


@dataclass
class FrameBus:
    """Publishes to SY_FRAMES the way the edge and connectors do (dedup id in Nats-Msg-Id)."""

    js: JetStreamContext

    @staticmethod
    def record(
        charger_id: str, direction: FrameDirection, ts_ns: int, raw: str, **fields: Any
    ) -> FrameRecord:
        return FrameRecord(
            charger_id=charger_id,
            direction=direction,
            ts_ns=ts_ns,
            ocpp=fields.pop("ocpp", "ocpp1.6"),
            raw=raw,
            instance=fields.pop("instance", "edge-0"),
            connection_id=fields.pop("connection_id", "conn-1"),
            **fields,
        )

    async def wait_settled(self, consumer: str) -> None:
        """Wait until the consumer has nothing undelivered and nothing unacknowledged."""
        deadline = time.monotonic() + WAIT_S
        while True:
            info = await self.js.consumer_info(streams.FRAMES.name, consumer)
            if info.num_pending == 0 and info.num_ack_pending == 0:
                return
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{consumer}: {info.num_pending} undelivered, {info.num_ack_pending} unacked"
                )
            await asyncio.sleep(POLL_S)

    async def publish(self, record: FrameRecord, msg_id: str | None = None) -> int:
        subject = subjects.frames(record.charger_id, record.direction)
        return await self.publish_raw(subject, record.to_bytes(), msg_id)

    async def publish_raw(self, subject: str, data: bytes, msg_id: str | None = None) -> int:
        ack = await self.js.publish(
            subject, data, headers={Header.DEDUP: msg_id or uuid.uuid4().hex}
        )
        return ack.seq


@dataclass
class Journal:
    """The journal app under test, seen through its REST API."""

    app: Any
    client: httpx.AsyncClient

    async def query(self, charger_id: str, **params: str | int) -> httpx.Response:
        return await self.client.get(frames_path(charger_id), params=params)

    async def frames(self, charger_id: str, **params: str | int) -> list[dict[str, Any]]:
        resp = await self.query(charger_id, **params)
        assert resp.status_code == 200, resp.text
        frames: list[dict[str, Any]] = resp.json()
        return frames

    async def wait_frames(self, charger_id: str, count: int) -> list[dict[str, Any]]:
        """The charger's frames once at least `count` are stored (fails after WAIT_S)."""
        deadline = time.monotonic() + WAIT_S
        frames = await self.frames(charger_id)
        while len(frames) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"{charger_id}: {len(frames)} of {count} frames after {WAIT_S}s")
            await asyncio.sleep(POLL_S)
            frames = await self.frames(charger_id)
        return frames

    async def metric(self, sample: str, **labels: str) -> float:
        text = (await self.client.get("/metrics")).text
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                    return float(s.value)
        raise AssertionError(f"{sample}{labels} not in /metrics")

    async def wait_metric(
        self, sample: str, check: Callable[[float], bool], **labels: str
    ) -> float:
        deadline = time.monotonic() + WAIT_S
        value = await self.metric(sample, **labels)
        while not check(value):
            if time.monotonic() > deadline:
                pytest.fail(f"{sample}{labels} stuck at {value} after {WAIT_S}s")
            await asyncio.sleep(POLL_S)
            value = await self.metric(sample, **labels)
        return value


def frames_path(charger_id: str) -> str:
    return f"/chargers/{quote(charger_id, safe='')}/frames"


@pytest.fixture
async def bus(nats_server: EmbeddedNats) -> AsyncIterator[FrameBus]:
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await streams.provision(js)  # as the admin: frames may be published before any app starts
    yield FrameBus(js)
    await nc.close()


@pytest.fixture
def charger() -> Callable[[str], str]:
    """Charger ids unique to this test (the stream is shared by every test)."""
    suffix = uuid.uuid4().hex[:8]
    return lambda name: f"{name}-{suffix}"


@pytest.fixture
async def journal_db(new_database: Callable[[], str]) -> str:
    db = new_database()
    await migrate("sy_journal", db)
    return db


@pytest.fixture
def settings_for(nats_server: EmbeddedNats) -> Callable[..., JournalSettings]:
    """Settings on a database, with a durable consumer name unique to this test by default."""
    consumer = f"journal-test-{uuid.uuid4().hex[:8]}"

    def make(database_url: str, consumer_name: str = consumer, **more: Any) -> JournalSettings:
        # The tests' frames are from 2023: keep everything unless a test is about retention.
        keep = {f"retention_{t}_days": 0 for t in ("frames", "events", "status")}
        return JournalSettings(
            nats_url=nats_server.url,
            database_url=database_url,
            consumer_name=consumer_name,
            fetch_timeout_s=0.25,
            **{**keep, **more},
        )

    return make


@pytest.fixture
def run_journal() -> Callable[[JournalSettings], AbstractAsyncContextManager[Journal]]:
    @asynccontextmanager
    async def run(settings: JournalSettings) -> AsyncIterator[Journal]:
        app = build_app(settings)
        async with app_client(app) as client:
            yield Journal(app, client)

    return run
