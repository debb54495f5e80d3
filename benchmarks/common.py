"""Shared helpers of the benchmarks: the machine description, medians, a fleet config.

Nothing here times anything on its own. Every figure a benchmark reports is either a
ratio against a floor measured in the same run or a median of several runs, because
the machines are shared and noisy (notes/test-fleet.md: compare side by side only).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def median(values: Iterable[float]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (no interpolation: a sample that really happened)."""
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def vm_hwm_mb(pid: int | str = "self") -> float | None:
    """Peak resident set size (VmHWM) in MB, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _version(module: str) -> str:
    try:
        mod = __import__(module)
        return str(getattr(mod, "__version__", "?"))
    except Exception as exc:  # a missing dependency is recorded, not fatal
        return f"unavailable ({type(exc).__name__})"


def machine() -> dict[str, Any]:
    """What the figures were measured on; load average is taken at the start of a run."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        ssh = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.strip()
    except OSError:
        ssh = "not installed"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": mem_gb,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "textual": _version("textual"),
        "paramiko": _version("paramiko"),
        "fabric": _version("fabric"),
        "invoke": _version("invoke"),
        "openssh": ssh,
        "load_average_at_start": list(os.getloadavg()),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def log(message: str) -> None:
    """Progress on stderr, so a long run shows where it is."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    value = fn()
    return time.perf_counter() - began, value


def next_second() -> None:
    """Sleep to the next wall-clock second: release ids have one-second resolution."""
    now = time.time()
    time.sleep(1.0 - (now % 1.0) + 0.01)


def release_id_unique(used: set[str]) -> str:
    """A 14-digit UTC id never used before in this run (waits a second if needed)."""
    while True:
        rid = time.strftime("%Y%m%d%H%M%S", time.gmtime())
        if rid not in used:
            used.add(rid)
            return rid
        next_second()


async def timed_key(app: Any, key: str, ran: list[float], done: Any) -> float | None:
    """Send `key` as a terminal driver does (not the pilot, which waits for idle, so
    sampling stays regular under load); seconds until the bound action ran, as it
    records itself in `ran` and sets `done` (an asyncio.Event); None after 30 s."""
    import asyncio
    import contextlib

    from textual import events

    before = len(ran)
    done.clear()
    sent = time.perf_counter()
    message = events.Key(key, key)
    message.set_sender(app)
    app._driver.send_message(message)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), 30)
    return ran[before] - sent if len(ran) > before else None
