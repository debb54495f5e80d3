"""Releases listing and rollback on many hosts vs one host (ratio of medians).

Set-up (untimed): deploytui deploys the sample app twice to every host, into
/srv/app/bench-list, so each host holds releases A and B. Then, alternating sizes,
`list_releases` and `run_rollback(to=...)` run on 1 host (host1) and on N hosts, and
so does a floor (bare Fabric running the listing's one scan command: connect, run,
close); the rollback target alternates A / B so every rollback really switches. Both configs point
at the same directory, so the small and the large operation see the same releases.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import log, median, ratio, release_id_unique
from benchmarks.floors import bare_fabric

# what this machine allows: the same one scan command with bare Fabric (connect, run,
# close), 1 host vs N. All N sshds share the client's cores here, unlike a real fleet.
FLOOR = "floor: bare Fabric, same scan command"


def _config(fleet: Any, n: int, workdir: Path) -> Any:
    from deploytui.config import load_config

    data = fleet.config(hosts=n, deploy_to="/srv/app/bench-list")
    return load_config(fleet.write_config(workdir / f"list-{n}.yml", data))


def run(fleet: Any, *, small: int, large: int, runs: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="deploytui-bench-list-"))
    try:
        return _run(fleet, small, large, runs, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(fleet: Any, small: int, large: int, runs: int, workdir: Path) -> dict[str, Any]:
    from deploytui.engine.operations.deploy import DeployRequest, run_deploy
    from deploytui.engine.operations.releases import list_releases, scan_command
    from deploytui.engine.operations.rollback import run_rollback
    from deploytui.engine.remote.layout import Layout

    configs = {small: _config(fleet, small, workdir), large: _config(fleet, large, workdir)}
    big = configs[large]
    proj = big.projects["app"]
    env = proj.environments["prod"]
    used: set[str] = set()
    ids = []
    log(f"listing: set-up, two deploys to {large} host(s)")
    for _ in range(2):
        res = run_deploy(big, DeployRequest(proj, env, release_id=release_id_unique(used)))
        if res.outcome != "success":
            raise RuntimeError(f"set-up deploy failed: {res.error}")
        ids.append(res.release_id)

    times: dict[str, dict[int, list[float]]] = {
        "releases listing": {small: [], large: []}, "rollback": {small: [], large: []},
        FLOOR: {small: [], large: []}}
    scan = scan_command(Layout("/srv/app/bench-list"))
    target = 0
    for r in range(runs):
        for n in (small, large) if r % 2 == 0 else (large, small):
            began = time.perf_counter()
            fleet_view = list_releases(configs[n], "app", "prod")
            times["releases listing"][n].append(time.perf_counter() - began)
            if len(fleet_view.listed_hosts()) != n:
                raise RuntimeError(f"listing reached {fleet_view.listed_hosts()} of {n}")
        for n in (small, large) if r % 2 == 0 else (large, small):
            hosts = [f"{h.address}:{h.port}" for h in fleet.hosts[:n]]
            times[FLOOR][n].append(bare_fabric.run_everywhere(
                hosts, user=fleet.user, key=str(fleet.client_key),
                known_hosts=str(fleet.known_hosts), command=scan))
        for n in (small, large) if r % 2 == 0 else (large, small):
            to = ids[target % 2]
            target += 1
            began = time.perf_counter()
            res = run_rollback(configs[n], "app", "prod", to=to)
            times["rollback"][n].append(time.perf_counter() - began)
            if not res.ok:
                raise RuntimeError(f"rollback on {n} host(s) to {to} failed: {res.error}")
        log(f"listing/rollback round {r + 1}/{runs}: "
            + ", ".join(f"{op} {n}h {v[n][-1]:.3f}s" for op, v in times.items()
                        for n in (small, large)))
    ops = {}
    for op, by_n in times.items():
        s, lg = median(by_n[small]), median(by_n[large])
        ops[op] = {"small_seconds": by_n[small], "large_seconds": by_n[large],
                   "small_median": s, "large_median": lg, "ratio": ratio(lg, s)}
    return {"runs": runs, "small": small, "large": large, "operations": ops}
