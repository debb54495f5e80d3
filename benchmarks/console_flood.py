"""The console under a log flood: throughput, key latency, peak RSS, nothing lost on disk.

Runs in a fresh interpreter (so VmHWM is the console's own peak, not the harness's):
`python -m benchmarks.console_flood --hosts 50 --lines 20000 [--rate N]` prints JSON.

What is driven: the console's REAL pipeline. `DeployConsole.runner.start(...)` is the
path a deploy takes: it builds the operation's sinks with `build_sinks(...,
printer=app.buffer)` (redaction → Broadcast → the App's LogBuffer + the journal's
JournalSink writing one log file per host + the notifier) and calls our function with
that sink in the Runner's thread, in place of `run_deploy`. Our function sends the
events a deploy would (DeployStarted, PhaseStarted, per host HostStepStarted, N x
HostLine, HostStepDone, PhaseFinished, DeployFinished), the HostLines from one producer
thread per host. The UI drains the LogBuffer on its 15 Hz timer as in a real deploy.

Producers are PACED by default: each host emits `rate` lines/s in 20 ms bursts (npm-like
~100-char lines), like SSH reader threads that block in recv(); `--rate 0` floods as fast
as the CPU allows (50 CPU-bound threads then compete with the UI thread for the GIL,
which real SSH readers do not).

Key latency: every ~100 ms during the flood, the key `f` (toggle follow, an App binding)
is sent as `Pilot.press` sends it (a `Key` event through the headless driver), without
the pilot's wait-for-idle so sampling keeps its pace; latency = time from sending until
the action method ran (wrapped). Follow is toggled back at the end if needed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import percentile, timed_key, vm_hwm_mb  # noqa: E402

WORDS = ("npm", "WARN", "deprecated", "resolve", "fetch", "tarball", "lodash", "webpack",
         "babel", "core-js", "postinstall", "node_modules", "sha512", "integrity", "http",
         "GET", "200", "added", "packages", "audited")


def npm_line(host: int, i: int) -> str:
    """A ~100-character line that looks like npm output (deterministic, cheap)."""
    w = WORDS
    body = (f"npm {w[i % 20]} {w[(i * 7) % 20]}@{i % 13}.{i % 7}.{i % 5} "
            f"{w[(i * 3) % 20]} /{w[(i * 11) % 20]}/-/{w[(i + host) % 20]}-{i}.tgz "
            f"{w[(i * 5) % 20]} {i:08d}")
    return (body + " " + "." * 100)[:100]


def _config(hosts: int) -> Any:
    from deploytui.config import load_config_text

    lines = ["projects:", "  app:", "    repo: builtin:demo", "    strategy: release",
             "    deploy_to: /srv/app", "    environments:", "      prod:", "        hosts:"]
    # distinct loopback addresses; nothing connects (status loading is off)
    lines += [f"          web{i:02d}: {{address: 127.0.{i // 250}.{i % 250 + 1}}}"
              for i in range(1, hosts + 1)]
    return load_config_text("\n".join(lines) + "\n", "flood.yml")


def flood(app: Any, hosts: list[str], lines: int, rate: float, marks: dict[str, float]
          ) -> Any:
    """The Runner's `call(sink, cancel)`: a fake deploy whose hosts print a lot."""
    from deploytui.engine.events import (
        DeployFinished,
        DeployStarted,
        HostLine,
        HostStepDone,
        HostStepStarted,
        PhaseFinished,
        PhaseStarted,
    )

    def call(sink: Any, cancel: threading.Event) -> None:
        began = time.monotonic()
        sink(DeployStarted(operation="deploy", project="app", environment="prod",
                           hosts=tuple(hosts), user="bench@flood", strategy="release",
                           release_id="20990101000000"))
        sink(PhaseStarted(phase="prepare", hosts=tuple(hosts)))

        def produce(index: int, host: str) -> None:
            sink(HostStepStarted(host=host, phase="prepare", step="build: npm ci"))
            burst = max(1, int(rate * 0.02)) if rate else 0
            next_at = time.monotonic()
            for i in range(lines):
                sink(HostLine(host=host, line=npm_line(index, i)))
                if burst and (i + 1) % burst == 0:
                    next_at += 0.02
                    delay = next_at - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
            sink(HostStepDone(host=host, phase="prepare", step="build: npm ci",
                              duration=time.monotonic() - began))

        marks["produce_start"] = time.perf_counter()
        threads = [threading.Thread(target=produce, args=(i, h), daemon=True)
                   for i, h in enumerate(hosts)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        marks["produce_end"] = time.perf_counter()
        sink(PhaseFinished(phase="prepare", ok=True))
        sink(DeployFinished(operation="deploy", outcome="success",
                            duration=time.monotonic() - began, release_id="20990101000000"))

    return call


async def measure(n_hosts: int, lines: int, rate: float, config_path: str | None = None
                  ) -> dict[str, Any]:
    """The flood; with `config_path`, a REAL deploy of that config's app/prod (whose build
    prints the lines) started as the console starts one (`runner.start(request)`)."""

    from deploytui.tui.app import DeployConsole

    if config_path:
        from deploytui.config import load_config

        config = load_config(Path(config_path))
    else:
        config = _config(n_hosts)
    hosts = [h.name for h in config.projects["app"].environments["prod"].hosts]
    app = DeployConsole(config, load_status=False)
    marks: dict[str, float] = {}
    ran: list[float] = []
    done = asyncio.Event()
    drained = {"lines": 0, "last": 0.0, "apply_total": 0.0, "apply_max": 0.0, "ticks": 0}

    def instrument(main: Any) -> None:
        """Wrap the main screen's key action and tick application with probes."""
        original = main.action_toggle_follow
        original_apply = main.apply_drained

        def probe() -> None:
            ran.append(time.perf_counter())
            done.set()
            original()

        def counting_apply(d: Any) -> None:
            n = sum(len(v) for v in d.lines.values()) if d.lines else 0
            began = time.perf_counter()
            original_apply(d)
            took = time.perf_counter() - began
            drained["apply_total"] += took
            drained["apply_max"] = max(drained["apply_max"], took)
            drained["ticks"] += 1
            if d.lines or d.all_lines:
                drained["lines"] += n
                drained["last"] = time.perf_counter()

        main.action_toggle_follow = probe
        main.apply_drained = counting_apply

    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        instrument(app.main)
        if gc.get_threshold()[0] == 50_000:  # --gc-tuned
            gc.freeze()
        ui_cpu0 = time.thread_time()  # run_test runs the App on this thread
        from deploytui.engine.operations.request import DeployRequest

        project = config.projects["app"]
        request = DeployRequest(project, project.environments["prod"])
        if config_path:  # a real deploy whose build floods
            marks["produce_start"] = time.perf_counter()
            app.runner.start(request)
        else:  # the engine replaced by a generator of events at a set rate
            app.runner.start(request, call=flood(app, hosts, lines, rate, marks))
        latencies: list[float] = []
        when: list[float] = []
        unanswered: list[float] = []
        ended: list[float] = []

        async def watch_end() -> None:  # the deploy's end, apart from key sampling
            while app.runner.running:
                await asyncio.sleep(0.01)
            ended.append(time.perf_counter())
            done.set()  # a key still waiting need not wait any longer

        watcher = asyncio.create_task(watch_end())
        await pilot.press("f")  # the pilot's own path once (waits for idle) ...
        while app.runner.running:
            # ... then the same key event the pilot (and a terminal driver) sends, without
            # the pilot's wait-for-idle, so sampling stays at ~10 Hz under load
            t0 = time.perf_counter()
            latency = await timed_key(app, "f", ran, done)
            if latency is not None:
                latencies.append(latency)
                when.append(t0)
            elif app.runner.running:
                unanswered.append(t0)  # a key the console never acted on within 30 s
            await asyncio.sleep(0.1)
        await watcher
        ui_cpu = time.thread_time() - ui_cpu0
        if config_path:
            marks["produce_end"] = ended[0]
            res = app.runner.result
            marks["outcome"] = getattr(res, "outcome", repr(res))  # type: ignore[assignment]
        if len(ran) % 2:
            await pilot.press("f")
        await pilot.pause()
        app.main.tick()
        await pilot.pause()
        await app.workers.wait_for_complete()
        app.exit(0)
    # buffer.lines kept the last max_lines per host; count what the UI was handed
    total = n_hosts * lines
    produce = marks.get("produce_end", 0) - marks.get("produce_start", 0)
    ui = drained["last"] - marks.get("produce_start", 0)
    lat_ms = [x * 1000 for x in latencies]
    return {
        "hosts": n_hosts,
        "lines_per_host": lines,
        "rate_per_host": rate or "unpaced",
        "lines_sent": total,
        "producer_seconds": round(produce, 3),
        "producer_lines_per_s": total / produce if produce > 0 else None,
        "ui_lines_drained": drained["lines"],
        "ui_lines_per_s": drained["lines"] / ui if ui > 0 else None,
        "key_samples": len(lat_ms),
        "key_latency_ms": {"p50": percentile(lat_ms, 50), "p95": percentile(lat_ms, 95),
                           "max": max(lat_ms) if lat_ms else None},
        "peak_rss_mb": vm_hwm_mb(),
        # CPU of the UI thread (event loop: ticks, rendering, key handling) while flooding
        "ui_thread_cpu_seconds": round(ui_cpu, 2),
        "process_cpu_seconds": round(time.process_time(), 2),
        # the UI thread's own work per tick (drain applied to table + log), wall time
        "ui_ticks": drained["ticks"],
        "ui_apply_ms_mean": round(drained["apply_total"] / max(1, drained["ticks"]) * 1000, 2),
        "ui_apply_ms_max": round(drained["apply_max"] * 1000, 2),
        # (seconds since the producers started, latency ms) of the 5 slowest samples
        "slowest_key_samples": sorted(
            ((round(w - marks.get("produce_start", w), 2), round(x, 1))
             for w, x in zip(when, lat_ms, strict=True)), key=lambda p: -p[1])[:5],
        "producing_seconds_for_reference": round(produce, 2),
        "deploy_outcome": marks.get("outcome"),
        "keys_unanswered": len(unanswered),
    }


def count_disk_lines(data_dir: Path, hosts: int) -> tuple[int, int]:
    """(host lines in the journal's per-host log files, host files found)."""
    logs = [p for p in data_dir.rglob("*.log") if not p.name.startswith("_")]
    total = 0
    for p in logs:
        with open(p, "rb") as fh:
            total += sum(1 for _ in fh)
    return total, len(logs)


def seq_check(data_dir: Path, expected: int) -> dict[str, int]:
    """For a build step `seq 1 N`: per host log file, how many of 1..N are missing."""
    import re

    tail = re.compile(rb"(\d+)\r?$")
    missing: dict[str, int] = {}
    for path in data_dir.rglob("*.log"):
        if path.name.startswith("_"):
            continue
        seen = bytearray(expected + 1)
        with open(path, "rb") as fh:
            for line in fh:
                m = tail.search(line.rstrip(b"\n"))
                if m:
                    v = int(m.group(1))
                    if 1 <= v <= expected:
                        seen[v] = 1
        missing[path.stem] = expected - sum(seen)
    return missing


class GcPauses:
    """Stop-the-world garbage-collection pauses (they hold the GIL: every thread waits)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.pauses.append((info.get("generation", -1), time.perf_counter() - self._began))

    def summary(self) -> dict[str, Any]:
        full = [d for g, d in self.pauses if g == 2]
        return {"collections": len(self.pauses), "gen2_collections": len(full),
                "gen2_max_ms": round(max(full) * 1000, 1) if full else None,
                "total_ms": round(sum(d for _, d in self.pauses) * 1000, 1)}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--hosts", type=int, default=50)
    p.add_argument("--lines", type=int, default=20_000)
    p.add_argument("--rate", type=float, default=1000.0,
                   help="lines/s per host (0: as fast as possible)")
    p.add_argument("--config", default=None,
                   help="deploy this config's app/prod for real (its build prints the lines)")
    p.add_argument("--gc-tuned", action="store_true",
                   help="diagnostic: gc.freeze() after start-up and a higher gen-0 threshold,"
                        " to see how much of the latency is garbage collection")
    args = p.parse_args(argv)
    if args.gc_tuned:
        gc.set_threshold(50_000, 50, 100)
    data = Path(tempfile.mkdtemp(prefix="deploytui-bench-flood-"))
    os.environ["DEPLOYTUI_DATA_DIR"] = str(data)  # the journal and its logs go here
    os.environ["DEPLOYTUI_CONFIG_DIR"] = str(data / "config")
    gc_pauses = GcPauses()
    gc.callbacks.append(gc_pauses)
    result = asyncio.run(measure(args.hosts, args.lines, args.rate, args.config))
    gc.callbacks.remove(gc_pauses)
    result["gc"] = gc_pauses.summary()
    on_disk, files = count_disk_lines(data, args.hosts)
    result["lines_on_disk"] = on_disk
    result["host_log_files"] = files
    result["lines_lost_on_disk"] = result["lines_sent"] - on_disk
    if args.config:  # a real deploy: its logs hold step lines too; check the numbers
        missing = seq_check(data, args.lines)
        result["seq_missing_per_host"] = missing
        result["lines_lost_on_disk"] = sum(missing.values()) + max(0, args.hosts - len(missing))
    shutil.rmtree(data, ignore_errors=True)  # ~110 MB of logs at full size
    print(json.dumps(result))
    return 0


def run(hosts: int, lines_per_host: int, rate: float = 1000.0, *, gc_tuned: bool = False,
        config: Path | None = None) -> dict[str, Any]:
    """Run the flood in a fresh interpreter and return its figures."""
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    res = subprocess.run([sys.executable, "-m", "benchmarks.console_flood", "--hosts",
                          str(hosts), "--lines", str(lines_per_host), "--rate", str(rate),
                          *(["--gc-tuned"] if gc_tuned else []),
                          *(["--config", str(config)] if config else [])],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    if res.returncode != 0:
        raise RuntimeError(f"console flood failed: {res.stderr.strip()[-800:]}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    pacing = (f"paced at {rate:g} lines/s per host in 20 ms bursts" if rate
              else "unpaced (as fast as possible)")
    out["method"] = (
        f"{hosts} producer threads → the console's real sink (Runner + build_sinks: "
        f"redaction, LogBuffer, journal per-host log files, notifier); "
        f"{pacing}"
        "; key `f` sent every ~100 ms; fresh interpreter, VmHWM"
        + ("; DIAGNOSTIC: gc.freeze() after start-up + gc.set_threshold(50000, 50, 100)"
           if gc_tuned else "") + ".")
    out["gc_tuned"] = gc_tuned
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
