"""The unpaced flood: N hosts x `seq 1 L` as the build step, through the CLI and the console.

* reference: N parallel `ssh host seq 1 L` (OpenSSH) into one pipe, read to the end;
* `deploytui deploy` (CLI, its own process, stdout a pipe read to the end) with the
  build step `seq 1 L`: every line goes through deploytui's output path (reader,
  redaction, the printer, the journal's per-host log files);
* the console: the same config deployed by `DeployConsole` headless (`run_test`),
  started as the console starts a deploy (`runner.start_deploy`), keys sent during
  the flood (benchmarks/console_flood.py --config).

After each deploytui run, every per-host log file is checked to hold each of 1..L.
Goals (issue 10): CLI within 3x and console within 4x the reference.
"""

from __future__ import annotations

import shlex
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import console_flood, tools
from benchmarks.common import log, median, ratio
from benchmarks.known_hosts import tools_sleep_to_next_second
from benchmarks.meter import Measured, run_measured, summary

DT = "/srv/app/bench-flood"


def run(fleet: Any, *, hosts: int, lines: int, runs: int, console: bool = True,
        warm_up: bool = True) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="deploytui-bench-flood-"))
    try:
        return _run(fleet, hosts, lines, runs, console, workdir, warm_up)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(fleet: Any, n: int, lines: int, runs: int, console: bool, workdir: Path,
         warm_up: bool) -> dict[str, Any]:
    chosen = fleet.hosts[:n]
    config = tools.write_config(fleet, workdir / "flood.yml", n, deploy_to=DT,
                                build=[f"seq 1 {lines}"], keep_releases=2)
    reference = "( " + " ".join(shlex.join(h.ssh_argv(f"seq 1 {lines}")) + " &"
                                for h in chosen) + " wait )"
    samples: dict[str, list[Measured]] = {"ssh": [], "cli": []}
    missing: list[dict[str, int]] = []
    log(f"flood: {n} hosts x {lines} lines" + (", warm-up" if warm_up else ""))
    if warm_up:
        run_measured(tools.deploytui(config, *tools.DEPLOY),
                     env=tools.env(workdir / "warm"))
    for r in range(runs):
        for which in ("ssh", "cli") if r % 2 == 0 else ("cli", "ssh"):
            if which == "ssh":
                m = run_measured(["bash", "-c", reference], timeout=300)
                m.extra["lines_received"] = m.stdout_lines
            else:
                tools_sleep_to_next_second()
                data = workdir / f"data-{r}"
                m = run_measured(tools.deploytui(config, *tools.DEPLOY),
                                 env=tools.env(data), timeout=600)
                miss = console_flood.seq_check(data, lines)
                missing.append(miss)
                m.extra["lines_missing_in_host_logs"] = sum(miss.values()) + max(0, n - len(miss))
                shutil.rmtree(data, ignore_errors=True)
            samples[which].append(m)
        log(f"flood round {r + 1}/{runs}: ssh {samples['ssh'][-1].wall:.2f}s, "
            f"cli {samples['cli'][-1].wall:.2f}s")
    by = {w: summary(s) for w, s in samples.items()}
    out: dict[str, Any] = {
        "hosts": n, "lines_per_host": lines, "ssh_reference": by["ssh"], "cli": by["cli"],
        "ratio_cli": ratio(by["cli"]["median_wall"], by["ssh"]["median_wall"]),
        "cli_lines_missing_in_host_logs": [s.extra["lines_missing_in_host_logs"]
                                           for s in samples["cli"]],
        "ssh_lines_received": [s.extra["lines_received"] for s in samples["ssh"]],
        "samples": {w: [s.record() for s in v] for w, v in samples.items()},
    }
    if console:
        log("flood: the same deploy through the console (headless)")
        walls = []
        runs_console = []
        for _ in range(max(1, runs // 2)):
            tools_sleep_to_next_second()
            c = console_flood.run(n, lines, 0, config=config)
            runs_console.append(c)
            walls.append(c["producer_seconds"])
        out["console"] = {"median_wall": median(walls), "runs": runs_console,
                          "lines_missing_in_host_logs": [c["lines_lost_on_disk"]
                                                         for c in runs_console]}
        out["ratio_console"] = ratio(median(walls), by["ssh"]["median_wall"])
    return out
