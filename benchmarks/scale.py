"""Deploy, rollback and releases listing at 1 / 10 / 30 / 100 / 200 (/ 500) hosts vs bare Fabric.

Each tool is its own process (benchmarks/meter.py), as a user runs it:

* deploy:   `deploytui deploy app prod --yes` vs `bare_fabric.py deploy` (6 commands/host);
* rollback: `deploytui rollback app prod --to ID --yes` vs `bare_fabric.py rollback`
  (the switch alone), and vs `bare_fabric.py safe-rollback` (the same switch with the
  same safety: lock and check on every host first, record and unlock after: three
  rounds, as deploytui's), so a user sees both what the safety costs and how well it
  is done;
* listing:  `deploytui releases app prod --json` vs `bare_fabric.py run` (the listing's
  own scan command).

Each into its own deploy_to on the same hosts. Per size: one untimed warm-up deploy per
tool (the mirror clone), then `runs` rounds; in each round every operation runs once per
tool, the order of the two tools alternating (A B, then B A). The rollback target is
the release `current` pointed to before the round's deploy (read from the host's files,
untimed), so every rollback really switches. Reported per operation and tool: median
wall, the tool process's CPU, whole-machine CPU, peak threads and peak RSS.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import tools
from benchmarks.common import log, ratio, release_id_unique
from benchmarks.meter import Measured, run_measured, summary

OPS = ("deploy", "rollback", "listing")
TOOLS = ("deploytui", "fabric")
DT = "/srv/app/bench-scale-deploytui"
FAB = "/srv/app/bench-scale-fabric"
LARGE = 254  # more hosts than one /24 of the fleet's addresses (500: two)
CONNECT_TIMEOUT_LARGE = 30.0


def run(fleet: Any, sizes: list[int], runs: int, warm_up: bool = True) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="deploytui-bench-scale-"))
    try:
        out: dict[str, Any] = {"runs": runs, "build": tools.BUILD, "by_hosts": {},
                               "failed_sizes": {},
                               "ssh_by_hosts": {str(n): _ssh_settings(n) for n in sizes
                                                if _ssh_settings(n)}}
        for n in sizes:  # a size that breaks must not lose the sizes measured before it
            try:
                out["by_hosts"][str(n)] = _size(fleet, n, runs, workdir, warm_up)
            except RuntimeError as exc:
                log(f"scale: {n} host(s) FAILED: {exc}")
                out["failed_sizes"][str(n)] = str(exc)
        return out
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _size(fleet: Any, n: int, runs: int, workdir: Path, warm_up: bool) -> dict[str, Any]:
    from deploytui.engine.operations.releases import scan_command
    from deploytui.engine.remote.layout import Layout

    hosts = fleet.hosts[:n]
    # keep_releases high: the rollback target (an older release) must never be pruned
    config = tools.write_config(fleet, workdir / f"scale-{n}.yml", n, deploy_to=DT,
                                keep_releases=50, ssh=_ssh_settings(n))
    env = tools.env(workdir / f"data-{n}")
    sha = tools.head_sha(fleet)
    used: set[str] = set()
    timeout = 120 + 2 * n

    def deploy(tool: str) -> Measured:
        if tool == "deploytui":
            return run_measured(tools.deploytui(config, *tools.DEPLOY),
                                env=env, timeout=timeout)
        return run_measured(tools.fabric_deploy(fleet, hosts, FAB, release_id_unique(used),
                                                sha), env=env, timeout=timeout)

    def rollback(tool: str, to: str) -> Measured:
        if tool == "deploytui":
            return run_measured(tools.deploytui(config, "rollback", "app", "prod", "--to", to,
                                                "--yes"), env=env, timeout=timeout)
        return run_measured(tools.fabric(fleet, hosts, "rollback", "--deploy-to", FAB,
                                         "--release-id", to), env=env, timeout=timeout)

    def safe_rollback(to: str) -> Measured:
        return run_measured(tools.fabric(fleet, hosts, "safe-rollback", "--deploy-to", FAB,
                                         "--release-id", to), env=env, timeout=timeout)

    def listing(tool: str) -> Measured:
        if tool == "deploytui":
            return run_measured(tools.deploytui(config, "releases", "app", "prod", "--json"),
                                env=env, timeout=timeout)
        return run_measured(tools.fabric(fleet, hosts, "run", "--command",
                                         scan_command(Layout(FAB))), env=env, timeout=timeout)

    log(f"scale: {n} host(s)" + (", warm-up" if warm_up else ""))
    # deploytui refuses a rollback to the current release: it needs an older one even in
    # a quick run; the floor's switch does not care
    for tool in TOOLS if warm_up else ("deploytui",):
        _check(deploy(tool), f"warm-up deploy {tool} at {n}")
    samples: dict[str, dict[str, list[Measured]]] = {op: {t: [] for t in TOOLS} for op in OPS}
    safe: list[Measured] = []  # the rollback floor with deploytui's safety
    for r in range(runs):
        order = TOOLS if r % 2 == 0 else TOOLS[::-1]
        targets = {t: tools.current_release(hosts[0], DT if t == "deploytui" else FAB)
                   for t in TOOLS}
        for tool in order:
            if tool == "deploytui":
                _next_release_second(used)
            samples["deploy"][tool].append(deploy(tool))
        safe_first = r % 2 == 1  # the same-safety floor takes turns going first too
        for tool in order:
            # the floor without a warm-up (quick run) has no older release: it "rolls back"
            # to the one just deployed (same commands, no switch)
            to = targets[tool] or tools.current_release(hosts[0], DT if tool == "deploytui"
                                                        else FAB)
            if tool == "fabric" and safe_first:
                safe.append(safe_rollback(to or "none"))
            samples["rollback"][tool].append(rollback(tool, to or "none"))
            if tool == "fabric" and not safe_first:
                safe.append(safe_rollback(to or "none"))
        for tool in order:
            samples["listing"][tool].append(listing(tool))
        log(f"scale: {n} host(s), round {r + 1}/{runs}: " + "; ".join(
            f"{op} " + ", ".join(f"{t} {samples[op][t][-1].wall:.2f}s"
                                 + ("" if samples[op][t][-1].ok else " FAILED")
                                 for t in TOOLS) for op in OPS))
    out: dict[str, Any] = {}
    for op in OPS:
        by_tool = {t: summary(samples[op][t]) for t in TOOLS}
        out[op] = {
            "tools": by_tool,
            "ratio_wall": ratio(by_tool["deploytui"]["median_wall"],
                                by_tool["fabric"]["median_wall"]),
            "ratio_process_cpu": ratio(by_tool["deploytui"]["median_cpu"],
                                       by_tool["fabric"]["median_cpu"]),
            "ratio_machine_cpu": ratio(by_tool["deploytui"]["median_machine_cpu"],
                                       by_tool["fabric"]["median_machine_cpu"]),
            "samples": {t: [s.record() for s in samples[op][t]] for t in TOOLS},
        }
    same_safety = summary(safe)
    out["rollback"]["same_safety"] = {
        "fabric": same_safety,
        "ratio_wall": ratio(out["rollback"]["tools"]["deploytui"]["median_wall"],
                            same_safety["median_wall"]),
        "samples": [s.record() for s in safe],
    }
    return out


def _ssh_settings(n: int) -> dict[str, Any] | None:
    """The fleet's ssh settings, but for more hosts than a /24 holds a longer
    connect_timeout. The fleet's 5 s (tests fail fast) bounds each key exchange: 500
    at once on 2 cores, every sshd on them too, take longer (deploytui then stops with
    a connect error), while Fabric waits for a key exchange without limit (paramiko's
    start_client with no timeout; its banner 15 s and auth 30 s, paramiko's defaults).
    30 s, as paramiko's own auth_timeout."""
    return {"connect_timeout": CONNECT_TIMEOUT_LARGE} if n > LARGE else None


def _next_release_second(used: set[str]) -> None:
    """deploytui names a release by the second it starts: never start twice in one second."""
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    if stamp in used:
        time.sleep(1.05 - time.time() % 1)
    used.add(time.strftime("%Y%m%d%H%M%S", time.gmtime()))


def _check(m: Measured, what: str) -> None:
    if not m.ok:
        said = (m.stderr_tail.strip() or m.stdout_tail.strip()).splitlines()
        # deploytui's own one-line verdict if there is one, else the end of the output
        line = next((x for x in said if x.startswith("deploytui:")), " | ".join(said[-3:]))
        raise RuntimeError(f"{what} failed (exit {m.returncode}): {line[:1500]}")
