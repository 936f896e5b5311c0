"""Benchmark: export N raw frames from the journal and report the service's peak RSS.

    uv run python bench/journal_export.py --frames 1000000 --format parquet

Starts an embedded Postgres, migrates the journal schema, loads N frames with COPY (straight into
journal.frames: this measures the export, not ingest), then runs the journal app in a child
process against an embedded NATS and streams GET /exports/frames through it, reading the body
and throwing it away. It prints the rows, bytes, seconds and the journal process's peak RSS
before and after the export: flat memory means the peak does not grow with N.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

from sy_devkit.embedded_nats import EmbeddedNats
from sy_devkit.embedded_postgres import EmbeddedPostgres
from sy_devkit.net import free_port, wait_for_port
from sy_journal.db import dsn
from sy_platform.migrations import upgrade

T0 = 1_700_000_000_000_000_000
RAW = '[2,"{i}","MeterValues",{{"connectorId":1,"transactionId":7,"meterValue":[{{"timestamp":"2023-11-14T22:13:20Z","sampledValue":[{{"value":"{i}"}}]}}]}}]'  # noqa: E501


async def load(url: str, n: int) -> None:
    from sy_journal.store import ts_from_ns

    conn = await asyncpg.connect(dsn(url))
    batch = 50_000
    for start in range(0, n, batch):
        rows = [
            (
                i + 1,
                f"CP{i % 500:04d}",
                "from_charger",
                ts_from_ns(T0 + i * 1_000_000),
                T0 + i * 1_000_000,
                "ocpp1.6",
                2,
                str(i),
                "MeterValues",
                None,
                "edge-0",
                "conn-1",
                RAW.format(i=i),
                None,
                [],
            )
            for i in range(start, min(n, start + batch))
        ]
        await conn.copy_records_to_table("frames", schema_name="journal", records=rows)
    await conn.close()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("ndjson", "csv", "parquet"), default="ndjson")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sy-bench-"))
    work.chmod(0o755)
    pg = EmbeddedPostgres(work / "pg", durable=False).start()
    nats_server = EmbeddedNats(work / "nats").start()
    journal = None
    try:
        url = pg.create_database("bench")
        upgrade("sy_journal", url)
        started = time.monotonic()
        asyncio.run(load(url, args.frames))
        print(f"loaded {args.frames} frames in {time.monotonic() - started:.1f}s")
        port = free_port()
        token = secrets.token_urlsafe(24)
        env = {
            "SY_BOOTSTRAP_TOKEN_SHA256": hashlib.sha256(token.encode()).hexdigest(),
            **os.environ,
            "SY_NATS_URL": nats_server.url,
            "SY_DATABASE_URL": url,
            "SY_HTTP_PORT": str(port),
            "SY_LOG_LEVEL": "WARNING",
            "SY_RETENTION_FRAMES_DAYS": "0",
            "SY_CONSUMER_NAME": "bench",
        }
        journal = subprocess.Popen([sys.executable, "-m", "sy_journal", "serve"], env=env)
        wait_for_port(port, timeout_s=60)
        time.sleep(1.0)
        before = rss_mb(journal.pid)
        started = time.monotonic()
        size = rows = 0
        with httpx.stream(
            "GET",
            f"http://127.0.0.1:{port}/exports/frames",
            params={"format": args.format},
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(30, read=None),
        ) as resp:
            resp.raise_for_status()
            for chunk in resp.iter_bytes():
                size += len(chunk)
                rows += chunk.count(b"\n")
        seconds = time.monotonic() - started
        print(f"format           {args.format}")
        print(f"frames exported  {args.frames} ({rows} newlines)")
        print(
            f"bytes            {size / 1e6:.1f} MB in {seconds:.1f}s "
            f"({args.frames / seconds:.0f} rows/s)"
        )
        print(f"journal RSS      {before:.1f} MB before, peak {peak_rss_mb(journal.pid):.1f} MB")
        print(
            f"bench client RSS peak "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MB"
        )
    finally:
        if journal is not None:
            journal.terminate()
            journal.wait(timeout=30)
        nats_server.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
