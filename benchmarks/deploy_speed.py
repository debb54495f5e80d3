"""Deploy speed against two floors, and SSH connections per host per deploy.

For each host count, three tools deploy the sample app (release strategy, build =
`sh build.sh` + `sleep 0.2`) to the same fleet hosts, each into its own deploy_to
(/srv/app/bench-<tool>) so their mirrors and releases never mix:

* deploytui  — `run_deploy` with the product's defaults (lock, metadata, revisions.log,
               prune, strict host keys, ssh.max_parallel from the config: default 20);
* fabric     — floors/bare_fabric.py (ThreadingGroup, one group.run per step);
* ssh-cm     — floors/ssh_controlmaster.sh (OpenSSH, one ControlMaster per host).

One untimed warm-up deploy per tool (clones the mirror), then `runs` timed rounds; the
tool order rotates each round so no tool always runs on a warmer or cooler machine.
Reported: the median per tool, deploytui / floor for each floor, and deploytui's phase
times (from its own events) to show where its time goes. Connections are counted from
each host's sshd log (`Accepted publickey`) before and after every deploytui run.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import log, median, ratio, release_id_unique
from benchmarks.floors import bare_fabric

FLOORS = Path(__file__).resolve().parent / "floors"
BUILD = ["sh build.sh", "sleep 0.2"]
TOOLS = ("deploytui", "fabric", "ssh-cm")
DIAG = "deploytui-all-at-once"  # ssh.max_parallel = host count (diagnostic)


class PhaseClock:
    """A sink timing deploytui's phases from its own PhaseStarted/PhaseFinished events."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.took: dict[str, float] = {}
        self.lines = 0
        self.steps: dict[str, list[float]] = {}  # step name -> per-host durations
        self._lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        from deploytui.engine.events import (
            HostLine,
            HostLines,
            HostStepDone,
            PhaseFinished,
            PhaseStarted,
        )

        now = time.perf_counter()
        with self._lock:
            if isinstance(event, PhaseStarted):
                self.started[event.phase] = now
            elif isinstance(event, PhaseFinished) and event.phase in self.started:
                self.took[event.phase] = now - self.started[event.phase]
            elif isinstance(event, HostLines):  # output arrives in batches
                self.lines += len(event.lines)
            elif isinstance(event, HostLine):
                self.lines += 1
            elif isinstance(event, HostStepDone):
                self.steps.setdefault(event.step, []).append(event.duration)


def _client_cpu() -> float:
    """CPU time of this process and its waited-for children (the ssh floor's ssh, git)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _sessions(hosts: list[Any]) -> list[int]:
    """Remote commands run so far, per host (sshd logs one session per exec channel)."""
    return [h.sshd_log().count("Starting session:") for h in hosts]


def _sha(fleet: Any) -> str:
    """What a floor does to learn the commit: ask the repository (timed with the floor)."""
    out = subprocess.run(["git", "ls-remote", fleet.repo_url, "refs/heads/main"],
                         capture_output=True, text=True, check=True).stdout
    return out.split()[0]


def _deploytui(fleet: Any, config: Any, used: set[str]) -> tuple[float, dict[str, Any]]:
    from deploytui.engine.operations.deploy import DeployRequest, run_deploy

    project = config.projects["app"]
    env = project.environments["prod"]
    hosts = [fleet.host(h.name) for h in env.hosts]
    before = {h.name: h.connections() for h in hosts}
    clock = PhaseClock()
    began = time.perf_counter()
    result = run_deploy(config, DeployRequest(project, env, release_id=release_id_unique(used)),
                        sink=clock)
    took = time.perf_counter() - began
    if result.outcome != "success":
        raise RuntimeError(f"deploytui deploy failed: {result.error}")
    conns = {h.name: h.connections() - before[h.name] for h in hosts}
    steps = {name: sum(d) / len(d) for name, d in clock.steps.items()}
    return took, {"phases": clock.took, "connections": conns, "lines": clock.lines,
                  "steps": steps}


def _fabric(fleet: Any, hosts: list[Any], used: set[str]) -> float:
    began = time.perf_counter()
    sha = _sha(fleet)
    bare_fabric.deploy([f"{h.address}:{h.port}" for h in hosts], user=fleet.user,
                       key=str(fleet.client_key), known_hosts=str(fleet.known_hosts),
                       deploy_to="/srv/app/bench-fabric", repo_url=fleet.repo_url, sha=sha,
                       release_id=release_id_unique(used), build=BUILD)
    return time.perf_counter() - began


def _ssh_cm(fleet: Any, hosts: list[Any], used: set[str], workdir: Path) -> float:
    hosts_file = workdir / f"hosts-{len(hosts)}.txt"
    hosts_file.write_text("".join(f"{h.address}\n" for h in hosts))
    began = time.perf_counter()
    sha = _sha(fleet)
    res = subprocess.run(
        ["bash", str(FLOORS / "ssh_controlmaster.sh"), "/srv/app/bench-ssh", fleet.repo_url,
         sha, release_id_unique(used), str(fleet.client_key), str(fleet.known_hosts),
         fleet.user, str(hosts[0].port), str(hosts_file), *BUILD],
        capture_output=True, text=True)
    took = time.perf_counter() - began  # includes bash start and master teardown (~ms)
    if res.returncode != 0:
        raise RuntimeError(f"ssh floor failed: {res.stderr.strip()[-300:]}")
    return took


def load_fleet_config(fleet: Any, n: int, workdir: Path, *,
                      ssh_overrides: dict[str, Any] | None = None, **overrides: Any) -> Any:
    from deploytui.config import load_config

    spec = {"deploy_to": "/srv/app/bench-deploytui", "build": BUILD, "roles": {"web": {}},
            **overrides}
    data = fleet.config(hosts=n, **spec)
    data["ssh"].update(ssh_overrides or {})
    name = f"deploy-{n}{'-all' if ssh_overrides else ''}.yml"
    return load_config(fleet.write_config(workdir / name, data))


def run(fleet: Any, host_counts: list[int], runs: int) -> dict[str, Any]:
    """Measure every host count; returns the JSON-able section of the results."""
    workdir = Path(tempfile.mkdtemp(prefix="deploytui-bench-"))
    try:
        return _run(fleet, host_counts, runs, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(fleet: Any, host_counts: list[int], runs: int, workdir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"runs": runs, "build": BUILD, "by_hosts": {}}
    used: dict[str, set[str]] = {t: set() for t in TOOLS}
    for n in host_counts:
        hosts = fleet.hosts[:n]
        config = load_fleet_config(fleet, n, workdir)
        tools = list(TOOLS)
        calls = {
            "deploytui": lambda c=config: _deploytui(fleet, c, used["deploytui"]),
            "fabric": lambda h=hosts: (_fabric(fleet, h, used["fabric"]), {}),
            "ssh-cm": lambda h=hosts: (_ssh_cm(fleet, h, used["ssh-cm"], workdir), {}),
        }
        if n > config.ssh.max_parallel:
            # diagnostic only (the headline keeps the defaults): every host at once,
            # as both floors do, separates the cap from deploytui's own overhead
            diag = load_fleet_config(fleet, n, workdir, ssh_overrides={"max_parallel": n},
                                     deploy_to="/srv/app/bench-deploytui-all")
            calls[DIAG] = lambda c=diag: (_deploytui(fleet, c, used["deploytui"])[0], {})
            tools.append(DIAG)
        log(f"deploy: {n} host(s), warm-up")
        for tool in tools:
            calls[tool]()
        times: dict[str, list[float]] = {t: [] for t in tools}
        commands: dict[str, list[int]] = {t: [] for t in tools}
        cpu: dict[str, list[float]] = {t: [] for t in tools}
        extras: list[dict[str, Any]] = []
        for r in range(runs):
            order = tools[r % len(tools):] + tools[:r % len(tools)]
            for tool in order:
                before = _sessions(hosts)
                cpu0 = _client_cpu()
                took, extra = calls[tool]()
                cpu[tool].append(_client_cpu() - cpu0)
                after = _sessions(hosts)
                commands[tool].append(sum(after) - sum(before))
                times[tool].append(took)
                if extra:
                    extras.append(extra)
            log(f"deploy: {n} host(s), round {r + 1}/{runs}: "
                + ", ".join(f"{t} {times[t][-1]:.2f}s" for t in tools))
        med = {t: median(times[t]) for t in tools}
        floor = min(med["fabric"], med["ssh-cm"])
        per_host = [c for e in extras for c in e["connections"].values()]
        phases = sorted({p for e in extras for p in e["phases"]})
        out["by_hosts"][str(n)] = {
            "seconds": times,
            "median_seconds": med,
            "ratio_vs_fabric": ratio(med["deploytui"], med["fabric"]),
            "ratio_vs_ssh_controlmaster": ratio(med["deploytui"], med["ssh-cm"]),
            "ratio_vs_faster_floor": ratio(med["deploytui"], floor),
            "diagnostic_all_at_once_ratio_vs_faster_floor": ratio(med.get(DIAG), floor),
            # "Starting session" lines in the sshd logs: one per remote command (channel)
            "remote_commands_per_host_per_deploy": {
                t: (median(commands[t]) or 0) / n for t in tools},
            # CPU seconds of the deploying side (this process + its children: ssh, git)
            "client_cpu_seconds_median": {t: median(cpu[t]) for t in tools},
            "deploytui_step_mean_seconds": {
                st: median(e["steps"].get(st) for e in extras)
                for st in sorted({st for e in extras for st in e["steps"]})},
            "deploytui_phase_median_seconds": {
                p: median(e["phases"].get(p) for e in extras) for p in _phase_order(phases)},
            "connections_per_host_per_deploy": {
                "min": min(per_host) if per_host else None,
                "max": max(per_host) if per_host else None,
                "samples": len(per_host),
            },
        }
    return out


def _phase_order(phases: list[str]) -> list[str]:
    order = ["preflight", "prepare", "barrier", "once", "switch", "restart", "finish"]
    return [p for p in order if p in phases] + [p for p in phases if p not in order]


if __name__ == "__main__":
    sys.exit("run benchmarks/run.py --only deploy")
