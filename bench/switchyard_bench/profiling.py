"""py-spy profiles of running processes, kept as collapsed stacks (flamegraph.pl / speedscope
read them), and the frames that took the most samples."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path


def py_spy() -> str | None:
    return shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")


def record(
    pids: dict[str, int], seconds: float, out_dir: Path
) -> dict[str, subprocess.Popen[bytes]]:
    """Start one `py-spy record` per process (non-blocking sampling: the target is not paused)."""
    exe = py_spy()
    if exe is None:
        return {}
    out_dir.mkdir(parents=True, exist_ok=True)
    running = {}
    for name, pid in pids.items():
        cmd = [exe, "record", "--pid", str(pid), "--duration", str(int(seconds))]
        cmd += ["--rate", "100", "--nonblocking", "--format", "raw"]
        cmd += ["--output", str(out_dir / f"{name}.collapsed.txt")]
        log = (out_dir / f"{name}.py-spy.log").open("wb")
        running[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        log.close()
    return running


def finish(running: dict[str, subprocess.Popen[bytes]], out_dir: Path) -> dict[str, object]:
    summary: dict[str, object] = {}
    for name, proc in running.items():
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        path = out_dir / f"{name}.collapsed.txt"
        if path.exists():
            summary[name] = top_frames(path)
        else:
            log = (out_dir / f"{name}.py-spy.log").read_text(errors="replace")[-400:]
            summary[name] = {"error": f"py-spy wrote no profile: {log}"}
    return summary


def _short(frame: str) -> str:
    # "handle (sy_edge/session.py:141)" -> keep the function and the path below site-packages/src
    if "(" not in frame:
        return frame
    func, where = frame.split(" (", 1)
    where = where.rstrip(")")
    for marker in ("/site-packages/", "/src/", "/lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{func} ({where})"


def top_frames(path: Path, n: int = 12) -> dict[str, object]:
    """Self time (leaf frames) and inclusive time (any frame on the stack), as % of samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    idle = 0
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";")]
        total += count
        leaf = frames[-1]
        if leaf.startswith(("select (", "poll (", "epoll", "_run_once")) and "selectors" in leaf:
            idle += count
        own[leaf] += count
        for frame in set(frames):
            inclusive[frame] += count

    def pct(counter: Counter[str]) -> list[list[object]]:
        return (
            [[f, round(100.0 * c / total, 1)] for f, c in counter.most_common(n)] if total else []
        )

    return {
        "samples": total,
        "idle_pct": round(100.0 * idle / total, 1) if total else None,
        "self": pct(own),
        "inclusive": pct(inclusive),
    }
