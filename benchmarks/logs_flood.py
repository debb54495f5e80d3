"""`deploytui logs -f` under a flood: N hosts x R lines/s followed for S seconds.

    sudo PYTHONPATH=. .venv/bin/python -m benchmarks.logs_flood [--hosts 10] [--rate 1000]
                                                                 [--seconds 60]

On a fleet of N real sshd hosts, one writer process (its own, paced in 20 ms bursts)
appends R numbered lines per second to each host's log file, as an app would. Three
followers watch the same flood, one after the other (each gets a fresh flood):

* reference: N OpenSSH `ssh host tail -F -n 0 LOG` processes, what a user would run by
  hand, each into its own pipe;
* the CLI: `deploytui logs app prod -f` (its own process, stdout a pipe read to the
  end), stopped with SIGINT when the writer is done and every line arrived (or 20 s
  later): its exit status, CPU (wait4 rusage), and every host's numbers checked: lost
  (written but never printed) and doubled;
* the console: `DeployConsole` headless (a fresh interpreter), `L` pressed as a user
  would, the key `f` (follow/pause of the logs view) sent every ~100 ms during the
  flood; key latency = from the key sent until the view's action ran. Lines that
  reached the view's buffer are counted too.

Goals (issue 27): console keys under 100 ms at p95; nothing lost in the CLI's output.
CPU is reported against the OpenSSH reference of the same run (a ratio, not seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import percentile, timed_key  # noqa: E402

LOG = "/srv/app/shared/log/bench.log"
LINE = re.compile(r"(host\d+) (\d{9}) ")
PAD = "x" * 60  # ~90-character lines


# -- the writer (its own process) ---------------------------------------------------------
def write(paths: list[str], rate: int, seconds: float) -> None:
    """Append `rate` numbered lines/s to each file for `seconds`, in 20 ms bursts."""
    files = [open(p, "a", buffering=1 << 16) for p in paths]  # noqa: SIM115
    names = [Path(p).parts[Path(p).parts.index("hosts") + 1] for p in paths]  # fleet layout
    burst = max(1, rate // 50)
    total = int(rate * seconds)
    start = time.monotonic()
    n = 0
    while n < total:
        upto = min(total, n + burst)
        for name, fh in zip(names, files, strict=True):
            fh.write("".join(f"{name} {i:09d} {PAD}\n" for i in range(n + 1, upto + 1)))
            fh.flush()
        n = upto
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    for fh in files:
        fh.close()


def start_writer(paths: list[Path], rate: int, seconds: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "benchmarks.logs_flood", "--write",
                             "--rate", str(rate), "--seconds", str(seconds),
                             *map(str, paths)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


# -- counting what a follower printed ----------------------------------------------------------
class Tally:
    """Per host: the numbers seen (a bytearray of flags), doubles, other lines."""

    def __init__(self, hosts: list[str], expected: int) -> None:
        self.expected = expected
        self.seen = {h: bytearray(expected + 1) for h in hosts}
        self.count = dict.fromkeys(hosts, 0)
        self.doubled = 0
        self.other = 0
        self.lock = threading.Lock()

    def line(self, text: str) -> None:
        m = LINE.search(text)
        if not m or m.group(1) not in self.seen:
            self.other += 1
            return
        i = int(m.group(2))
        with self.lock:
            flags = self.seen[m.group(1)]
            if 1 <= i <= self.expected:
                if flags[i]:
                    self.doubled += 1
                flags[i] = 1
                self.count[m.group(1)] += 1

    def complete(self) -> bool:
        return all(c >= self.expected for c in self.count.values())

    def lost(self) -> dict[str, int]:
        return {h: self.expected - sum(f[1:]) for h, f in self.seen.items()}


def follow_processes(argvs: list[list[str]], env: dict[str, str], hosts: list[str],
                     ready: list[str], paths: list[Path], rate: int, seconds: float
                     ) -> dict[str, Any]:
    """Start the followers, wait for every `ready` line, flood, stop with SIGINT once every
    line arrived; what they printed, their CPU and exit statuses."""
    tally = Tally(hosts, int(rate * seconds))
    seen_ready: set[str] = set()
    procs = [subprocess.Popen(a, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, env=env, bufsize=1 << 16)
             for a in argvs]

    def read(proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            text = raw.decode(errors="replace")
            if "ready-marker" in text:
                seen_ready.add(text.strip())
            else:
                tally.line(text)

    readers = [threading.Thread(target=read, args=(p,), daemon=True) for p in procs]
    for r in readers:
        r.start()
    deadline = time.monotonic() + 60
    while not set(ready) <= {s.split()[-1] for s in seen_ready}:
        if time.monotonic() > deadline:
            raise RuntimeError(f"followers never ready: saw {sorted(seen_ready)}")
        time.sleep(0.05)
    time.sleep(0.5)
    began = time.monotonic()
    writer = start_writer(paths, rate, seconds)
    writer.wait()
    wrote = time.monotonic() - began
    settle = time.monotonic() + 20
    while not tally.complete() and time.monotonic() < settle:
        time.sleep(0.05)
    caught_up = time.monotonic() - began
    codes, cpu = [], 0.0
    for p in procs:
        p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            _, status, usage = os.wait4(p.pid, 0)
            codes.append(os.waitstatus_to_exitcode(status))
            cpu += usage.ru_utime + usage.ru_stime
        except ChildProcessError:
            codes.append(p.poll())
        p.returncode = codes[-1]
    for r in readers:
        r.join(5)
    lost = tally.lost()
    return {"exit_codes": sorted(set(codes)), "cpu_seconds": round(cpu, 2),
            "writer_seconds": round(wrote, 2), "all_arrived_after_s": round(caught_up, 2),
            "lines_written": tally.expected * len(hosts),
            "lines_received": sum(tally.count.values()),
            "lines_lost": sum(lost.values()), "lost_per_host": lost,
            "lines_doubled": tally.doubled, "other_lines": tally.other}


# -- the console (a fresh interpreter) ----------------------------------------------------------
async def console(config_path: str, paths: list[str], rate: int, seconds: float
                  ) -> dict[str, Any]:

    from deploytui.config import load_config
    from deploytui.tui import log_buffer
    from deploytui.tui.app import DeployConsole
    from deploytui.tui.screens import logs as logs_screen

    received = {"lines": 0}
    per_host: dict[str, int] = {}
    said: list[str] = []  # every LogFollow with words: a drop during the flood shows here

    class Counting(log_buffer.LogBuffer):
        def __call__(self, event: Any) -> None:
            lines = getattr(event, "lines", None)
            if lines is not None:
                n = sum(1 for ln in lines if LINE.search(ln))
                received["lines"] += n
                per_host[event.host] = per_host.get(event.host, 0) + n
            elif getattr(event, "text", ""):
                said.append(f"{event.host}: {event.text}")
            super().__call__(event)

    logs_screen.LogBuffer = Counting  # type: ignore[misc]
    app = DeployConsole(load_config(Path(config_path)), load_status=False)
    ran: list[float] = []
    done = asyncio.Event()
    latencies: list[float] = []
    unanswered = 0
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("L")
        view = app.screen
        assert isinstance(view, logs_screen.LogsScreen), view
        original = view.action_toggle_follow

        def probe() -> None:
            ran.append(time.perf_counter())
            done.set()
            original()

        view.action_toggle_follow = probe  # type: ignore[method-assign]
        deadline = time.monotonic() + 60
        while sum(1 for s in view.buffer.states().values() if s.status == "following") \
                < len(paths):
            if time.monotonic() > deadline:
                raise RuntimeError("the logs view never followed every host")
            await pilot.pause(0.1)
        await pilot.pause(0.5)
        ui0 = time.thread_time()
        writer = start_writer([Path(p) for p in paths], rate, seconds)
        while writer.poll() is None:
            latency = await timed_key(app, "f", ran, done)
            if latency is not None:
                latencies.append(latency * 1000)
            else:
                unanswered += 1
            await asyncio.sleep(0.1)
        ui_cpu = time.thread_time() - ui0
        expected = int(rate * seconds) * len(paths)
        settle = time.monotonic() + 20
        while received["lines"] < expected and time.monotonic() < settle:
            await pilot.pause(0.1)
        if len(ran) % 2:
            await pilot.press("f")
        await pilot.press("escape")
        await pilot.pause()
    await asyncio.get_running_loop().run_in_executor(None, logs_screen.stop_followers, 20.0)
    return {"key_samples": len(latencies),
            "key_latency_ms": {"p50": percentile(latencies, 50),
                               "p95": percentile(latencies, 95),
                               "max": max(latencies) if latencies else None},
            "keys_unanswered": unanswered, "ui_thread_cpu_seconds": round(ui_cpu, 2),
            "lines_written": expected, "lines_reached_the_view": received["lines"],
            "view_lines_per_host": per_host, "said": said[:20],
            "process_cpu_seconds": round(time.process_time(), 2)}


def run_console(config: Path, paths: list[Path], rate: int, seconds: float
                ) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DEPLOYTUI_DATA_DIR":
           tempfile.mkdtemp(prefix="deploytui-bench-logs-")}
    res = subprocess.run([sys.executable, "-m", "benchmarks.logs_flood", "--console",
                          str(config), "--rate", str(rate), "--seconds", str(seconds),
                          *map(str, paths)], capture_output=True, text=True, cwd=ROOT,
                         env=env, timeout=seconds + 300)
    if res.returncode != 0:
        raise RuntimeError(f"console run failed: {res.stderr.strip()[-1500:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


# -- the whole benchmark ----------------------------------------------------------------------
def run(fleet: Any, *, hosts: int, rate: int, seconds: float, workdir: Path,
        only: tuple[str, ...] = ("ssh", "cli", "console")) -> dict[str, Any]:
    chosen = fleet.hosts[:hosts]
    names = [h.name for h in chosen]
    paths = [h.path(LOG) for h in chosen]
    config = fleet.write_config(workdir / "logs.yml", fleet.config(
        chosen, roles={"web": {"restart": ["true"], "logs": [LOG]}}))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DEPLOYTUI_DATA_DIR": str(workdir / "d")}

    def fresh_logs() -> None:
        for h, p in zip(chosen, paths, strict=True):
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(f"{h.name} ready-marker {h.name}\n")
            os.chown(p.parent, fleet.uid, -1)

    out: dict[str, Any] = {"hosts": hosts, "rate_per_host": rate, "seconds": seconds}
    if "ssh" in only:
        fresh_logs()
        out["ssh_reference"] = follow_processes(
            [h.ssh_argv(f"tail -F -n 1 {LOG}") for h in chosen], env, names, names, paths,
            rate, seconds)
    if "cli" in only:
        fresh_logs()
        out["cli"] = follow_processes(
            [[sys.executable, "-m", "deploytui", "--config", str(config), "logs", "app",
              "prod", "-f", "-n", "1"]], env, names, names, paths, rate, seconds)
    if "ssh" in only and "cli" in only and out["ssh_reference"]["cpu_seconds"]:
        out["cli_cpu_vs_ssh"] = round(out["cli"]["cpu_seconds"]
                                      / out["ssh_reference"]["cpu_seconds"], 2)
    if "console" in only:
        fresh_logs()
        out["console"] = run_console(config, paths, rate, seconds)
    if "console_floor" in only:  # the deploy console under a synthetic flood, same rate
        from benchmarks import console_flood

        floor = console_flood.run(hosts, int(rate * seconds), float(rate))
        out["console_floor"] = {k: floor[k] for k in ("key_latency_ms", "key_samples",
                                                       "ui_thread_cpu_seconds")}
    return out


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--hosts", type=int, default=10)
    p.add_argument("--rate", type=int, default=1000, help="lines/s per host")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--only", default="ssh,cli,console",
                   help="which followers: ssh,cli,console (and console_floor: the deploy "
                   "console's synthetic flood at the same rate, as a control)")
    p.add_argument("--write", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--console", metavar="CONFIG", help=argparse.SUPPRESS)
    p.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.write:
        write(args.paths, args.rate, args.seconds)
        return 0
    if args.console:
        print(json.dumps(asyncio.run(console(args.console, args.paths, args.rate,
                                             args.seconds))))
        return 0
    from tests.fleet import Fleet

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the fleet stops in finally
    fleet = Fleet.start(args.hosts)
    workdir = Path(tempfile.mkdtemp(prefix="deploytui-bench-logs-"))
    try:
        load = os.getloadavg()
        result = run(fleet, hosts=args.hosts, rate=args.rate, seconds=args.seconds,
                     workdir=workdir, only=tuple(args.only.split(",")))
        result["load_average_at_start"] = [round(x, 2) for x in load]
        result["nproc"] = os.cpu_count()
    finally:
        fleet.stop()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
