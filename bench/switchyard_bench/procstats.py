"""Measured process figures: RSS and CPU time per component (psutil), Prometheus metrics."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
import psutil


@dataclass(frozen=True)
class Sample:
    at: float
    rss: dict[str, int]  # bytes, summed over a component's processes
    cpu: dict[str, float]  # user + system seconds, summed
    machine_busy: float  # seconds every CPU of the machine was busy, whoever ran


def sample(pids: dict[str, list[int]]) -> Sample:
    rss: dict[str, int] = {}
    cpu: dict[str, float] = {}
    for name, ids in pids.items():
        for pid in ids:
            try:
                proc = psutil.Process(pid)
                with proc.oneshot():
                    mem = proc.memory_info().rss
                    times = proc.cpu_times()
            except psutil.Error:
                continue
            rss[name] = rss.get(name, 0) + mem
            cpu[name] = cpu.get(name, 0.0) + times.user + times.system
    t = psutil.cpu_times()
    busy = t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)
    return Sample(time.monotonic(), rss, cpu, busy + getattr(t, "steal", 0.0))


def machine_busy_cores(before: Sample, after: Sample) -> float:
    """Cores busy on the whole machine between two samples: other work on a shared machine
    shows up as the difference from the bench's own processes."""
    wall = after.at - before.at
    return (after.machine_busy - before.machine_busy) / wall if wall > 0 else 0.0


def cpu_share(before: Sample, after: Sample) -> dict[str, float]:
    """CPU seconds per wall second of each component between two samples (1.0 = one core)."""
    wall = after.at - before.at
    return {
        name: (after.cpu[name] - before.cpu.get(name, 0.0)) / wall for name in after.cpu if wall > 0
    }


def metric(api_url: str, name: str) -> float | None:
    """The sum of a metric's samples on a service's /metrics (Prometheus text)."""
    try:
        text = httpx.get(f"{api_url}/metrics", timeout=5).text
    except httpx.HTTPError:
        return None
    total = None
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in (" ", "{"):
            total = (total or 0.0) + float(line.rsplit(" ", 1)[1])
    return total
