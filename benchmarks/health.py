"""What a health check costs when it passes at once (issue 12).

The same deploy (restart `true` on role web) with and without a health check that passes
on its first attempt (`health: {command: "true"}`, run on the host), deploytui CLI as its
own process, alternating; reported: medians and with / without. On code that has no
`health` key yet the run records that instead of a figure.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import tools
from benchmarks.common import log, ratio
from benchmarks.known_hosts import tools_sleep_to_next_second
from benchmarks.meter import Measured, run_measured, summary

DT = "/srv/app/bench-health"


def run(fleet: Any, *, hosts: int, runs: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="deploytui-bench-health-"))
    try:
        return _run(fleet, hosts, runs, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(fleet: Any, n: int, runs: int, workdir: Path) -> dict[str, Any]:
    configs = {
        "without": tools.write_config(fleet, workdir / "plain.yml", n, deploy_to=DT,
                                      roles={"web": {"restart": ["true"]}}),
        "with": tools.write_config(fleet, workdir / "health.yml", n, deploy_to=DT,
                                   roles={"web": {"restart": ["true"],
                                                  "health": {"command": "true"}}}),
    }
    env = tools.env(workdir / "data")
    check = run_measured(tools.deploytui(configs["with"], "check"), env=env)
    if not check.ok:
        return {"hosts": n, "supported": False,
                "note": "this code has no health check (config rejected: "
                        + (check.stderr_tail.strip().splitlines() or ["?"])[-1] + ")"}
    log(f"health: {n} hosts, warm-up")
    run_measured(tools.deploytui(configs["without"], *tools.DEPLOY), env=env)
    samples: dict[str, list[Measured]] = {"without": [], "with": []}
    for r in range(runs):
        for which in ("without", "with") if r % 2 == 0 else ("with", "without"):
            tools_sleep_to_next_second()
            samples[which].append(run_measured(
                tools.deploytui(configs[which], *tools.DEPLOY), env=env,
                timeout=300))
        log(f"health round {r + 1}/{runs}: without {samples['without'][-1].wall:.2f}s, "
            f"with {samples['with'][-1].wall:.2f}s")
    by = {w: summary(s) for w, s in samples.items()}
    return {"hosts": n, "supported": True, "without": by["without"], "with": by["with"],
            "ratio": ratio(by["with"]["median_wall"], by["without"]["median_wall"]),
            "extra_seconds": (None if None in (by["with"]["median_wall"],
                                               by["without"]["median_wall"])
                              else by["with"]["median_wall"] - by["without"]["median_wall"]),
            "samples": {w: [s.record() for s in v] for w, v in samples.items()}}
