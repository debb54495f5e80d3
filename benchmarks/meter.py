"""Run one tool as its own process and measure it the way a user's machine would see it.

Every tool (the `deploytui` CLI, a bare Fabric script, a shell pipeline) runs as a child
process, so each figure belongs to that tool alone:

* wall seconds, from spawn to exit (interpreter start-up included: a user pays it too);
* the deploying process's CPU (user + system, from `wait4`'s rusage: the process and
  the children it waited for);
* its peak thread count and peak resident set (VmHWM), sampled from /proc/PID/status
  every 20 ms (not `ru_maxrss`: on Linux a child's starts at its parent's RSS at fork);
* whole-machine CPU over the run, from the `cpu` line of /proc/stat (user + nice +
  system + irq + softirq + steal): the loopback hosts' sshd and shells included, and
  every other job on a shared machine too, so compare it only within one run.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

_TICK = os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (/proc/stat `cpu` line)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, *rest = (int(x) for x in fields)
    steal = rest[0] if rest else 0
    return (user + nice + system + irq + softirq + steal) / _TICK


@dataclass
class Measured:
    """One run of one tool."""

    argv: list[str]
    wall: float
    returncode: int
    cpu_user: float = 0.0
    cpu_sys: float = 0.0
    peak_rss_mb: float = 0.0
    peak_threads: int = 0
    machine_cpu: float = 0.0
    timed_out: bool = False
    stdout_lines: int = 0
    stdout_tail: str = ""
    stderr_tail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    @property
    def cpu(self) -> float:
        return self.cpu_user + self.cpu_sys

    def record(self) -> dict[str, Any]:
        """The JSON-able sample (argv shortened: paths are noise)."""
        data = asdict(self)
        data["argv"] = " ".join(Path(a).name if a.startswith("/") else a
                                for a in self.argv)[:200]
        data["cpu"] = round(self.cpu, 3)
        for key in ("wall", "cpu_user", "cpu_sys", "peak_rss_mb", "machine_cpu"):
            data[key] = round(data[key], 3)
        if self.ok:
            data.pop("stderr_tail")
        return data


def _sample(pid: int, peak: list[int], stop: threading.Event) -> None:
    """peak = [threads, VmHWM kB], from /proc/PID/status until the process is gone."""
    path = f"/proc/{pid}/status"
    while not stop.is_set():
        try:
            with open(path) as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        peak[1] = max(peak[1], int(line.split()[1]))
                    elif line.startswith("Threads:"):
                        peak[0] = max(peak[0], int(line.split()[1]))
                        break
        except (OSError, ValueError):
            return
        stop.wait(0.02)


def _drain(stream: Any, counter: list[int], tail: list[bytes]) -> None:
    """Read a pipe to its end as a fast reader would, counting newlines, keeping a tail."""
    last = b""
    while True:
        chunk = stream.read1(1 << 16) if hasattr(stream, "read1") else stream.read(1 << 16)
        if not chunk:
            break
        counter[0] += chunk.count(b"\n")
        last = (last + chunk)[-16000:]
    tail.append(last)


def run_measured(argv: Sequence[str], *, env: dict[str, str] | None = None,
                 cwd: str | Path | None = None, timeout: float = 600.0,
                 shell: bool = False) -> Measured:
    """Spawn `argv`, wait for it (killing it at `timeout`), and measure it."""
    argv = list(argv)
    cpu0 = machine_cpu_seconds()
    began = time.perf_counter()
    proc = subprocess.Popen(argv[0] if shell else argv, shell=shell, env=env, cwd=cwd,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    peak = [0, 0]
    stop = threading.Event()
    out_lines, out_tail, err_lines, err_tail = [0], [], [0], []
    readers = [threading.Thread(target=_sample, args=(proc.pid, peak, stop),
                                daemon=True),
               threading.Thread(target=_drain, args=(proc.stdout, out_lines, out_tail),
                                daemon=True),
               threading.Thread(target=_drain, args=(proc.stderr, err_lines, err_tail),
                                daemon=True)]
    for t in readers:
        t.start()
    timer = threading.Timer(timeout, _kill_group, args=(proc.pid,))
    timer.start()
    try:
        _pid, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    wall = time.perf_counter() - began
    machine = machine_cpu_seconds() - cpu0
    proc.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    for t in readers[1:]:
        t.join(10)
    timed_out = proc.returncode < 0 and wall >= timeout
    return Measured(
        argv=argv, wall=wall, returncode=proc.returncode, cpu_user=usage.ru_utime,
        cpu_sys=usage.ru_stime, peak_rss_mb=peak[1] / 1024,
        peak_threads=peak[0], machine_cpu=machine, timed_out=timed_out,
        stdout_lines=out_lines[0],
        stdout_tail=(out_tail[0] if out_tail else b"").decode(errors="replace")[-6000:],
        stderr_tail=(err_tail[0] if err_tail else b"").decode(errors="replace")[-6000:])


def _kill_group(pid: int) -> None:
    """A tool that overran its time: kill it and whatever it started (its own session)."""
    with contextlib.suppress(OSError):
        os.killpg(pid, 9)


def _verdict(m: Measured) -> str:
    """A failed run's one line: deploytui's own `deploytui: ...` line, else the last one."""
    lines = (m.stderr_tail.strip() or m.stdout_tail.strip() or "?").splitlines()
    if m.timed_out:
        return f"stopped after {m.wall:.0f} s"
    return next((x for x in lines if x.startswith("deploytui:")), lines[-1])[:1500]


def summary(samples: list[Measured]) -> dict[str, Any]:
    """Medians of the successful samples (None when none succeeded), and the failures."""
    from benchmarks.common import median

    good = [s for s in samples if s.ok]
    return {
        "runs": len(samples),
        "failed": len(samples) - len(good),
        "median_wall": median(s.wall for s in good),
        "median_cpu": median(s.cpu for s in good),
        "median_machine_cpu": median(s.machine_cpu for s in good),
        "peak_threads": max((s.peak_threads for s in good), default=None),
        "peak_rss_mb": max((s.peak_rss_mb for s in good), default=None),
        "first_error": next((_verdict(s) for s in samples if not s.ok), None),
        "timed_out": sum(1 for s in samples if s.timed_out),
    }
